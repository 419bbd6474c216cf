"""Beamline mapping benchmark: what fraction of a raster scan autonomous mapping needs.

For each simulated end station (SAXS ``q0``, ARPES ``band_energy``, IR
``band_ratio``), each hidden sample seed (the IOC's ``--seed``; ``--seeds 0 1 2``)
and a raster size (``--raster 50`` or ``100``):

1. **the raster reference**: a ``side x side`` raster (edges included) read with
   the station's noise, linearly interpolated; its NRMSE against the noise-free
   truth (RMSE / range) is the target;
2. **the fraction of the raster's points** each method needs to reach it, scored
   every ``side^2 / 40`` points (2.5 %) up to ``--max-fraction``: gpsteer
   (``Agent(bounds, seed=seed, **options)``, defaults unless ``--agent KEY=VALUE``,
   ``Agent.run`` with each reading's variance, posterior mean as the map; named by
   ``--label``), gpCAM 8.6.1 (``anchors.gpcam_mapping_loop``, told the median reading
   variance), python-adaptive's ``Learner2D`` and uniform random points (both linear
   interpolation);
3. with ``--wall-points N``, the wall time per point of gpsteer against the real IOC
   and RunEngine (``autonomous_plan``, Dask training), first seed only.

**Scoring grid**: ``--score-grid`` x ``--score-grid`` cell centres (default 250; see
:func:`benchmarks.fields.cell_centres`). A grid that contains the raster's nodes
scores the raster where it measured: a 100 x 100 raster on a 100 x 100 grid with
edges has zero interpolation error there, and only its noise is counted. Cell
centres of a 250 x 250 grid are finer than both rasters and lie on none of their
nodes.

Readings do not go over Channel Access: :mod:`benchmarks.stations` calls the
package's sample, frame and reduction code, what the IOC and device run. A reading
whose fit fails (NaN) is retaken, for every method alike. Results go to a store
(``--out``/beamline_store.json) after every (station, seed, method): a stopped run
resumes, a new ``--label`` adds a column. ``--diagnose`` adds where the error sits
(:mod:`benchmarks.diagnostics`), for the first seed.

Run: ``python -m benchmarks.bench_beamline_mapping [--quick] [--raster 50]
[--seeds 0 1 2] [--stations saxs ir] [--skip-gpcam] [--label NAME --agent KEY=VALUE]
[--diagnose [--band-widths 2]] [--record]``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from benchmarks.anchors import attempt, gpcam_mapping_loop, gpcam_version
from benchmarks.baselines import Learner2DRun, Map, interpolator, raster_map
from benchmarks.comparison import Store, gpsteer_configuration, parse_agent_options
from benchmarks.diagnostics import (
    ZONES,
    Zones,
    diagnose_method,
    diagnose_raster,
    diagnosis_tables,
    step_width,
)
from benchmarks.engines import gpsteer_version
from benchmarks.fields import cell_centres, nrmse
from benchmarks.ioc_timing import wall_time_per_point
from benchmarks.report import (
    environment,
    limit_threads,
    markdown_table,
    record_result,
    write_outputs,
)
from benchmarks.stations import STATIONS, SimulatedStation, UnitSquareView

KINDS = ("saxs", "arpes", "ir")
#: Published fractions of the raster that autonomous mapping needed (DESIGN.md): targets.
TARGET_FRACTION = {"saxs": 0.15, "arpes": 0.12, "ir": 0.05}
GPCAM_INITIAL = 8  # random points before gpCAM's first model


@dataclass
class Curve:
    """NRMSE against the number of points, and the per-point decision time."""

    points: list[tuple[int, float]] = field(default_factory=list)
    decision_s: float | None = None
    error: str | None = None

    def fraction_reaching(self, target: float, n_raster: int) -> float | None:
        for n, err in self.points:
            if err <= target:
                return n / n_raster
        return None


def checkpoints(
    n_raster: int, max_fraction: float, first_n: int = 9, targets: tuple[float, ...] = ()
) -> list[int]:
    """Multiples of ``n_raster / 40`` from the first above ``first_n`` to ``max_fraction``,
    plus the point counts of ``targets`` (fractions): a target is then judged at its own
    count, not at the next multiple above it."""
    step = max(1, round(n_raster / 40))
    first = step * math.ceil(first_n / step)
    top = max(first, int(max_fraction * n_raster))
    extra = {round(t * n_raster) for t in targets if first <= round(t * n_raster) <= top}
    return sorted(set(range(first, top + 1, step)) | extra)


class Scorer:
    """NRMSE of a map on the scoring grid; keeps the last map for ``--diagnose``."""

    def __init__(self, truth: np.ndarray, grid_unit: np.ndarray) -> None:
        self.truth, self.grid, self.last = truth, grid_unit, None

    def __call__(self, predict: Map) -> float:
        chunks = [self.grid[i : i + 8000] for i in range(0, len(self.grid), 8000)]
        self.last = np.concatenate([np.asarray(predict(c)).reshape(-1) for c in chunks])
        return nrmse(self.truth, self.last)


# ----------------------------------------------------------------------------- methods


def gpsteer_curve(
    view: UnitSquareView, stops: list[int], score: Scorer, target: float, seed: int, options
) -> Curve:
    """``Agent.run`` up to each checkpoint (the Agent's own initial design); stops at the target."""
    from gpsteer import Agent

    station = view.station
    rng = np.random.default_rng([seed, 11])
    curve, measuring, thinking = Curve(), [0.0], 0.0

    def instrument(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t0 = time.perf_counter()
        try:
            return station.read(points, rng)
        finally:
            measuring[0] += time.perf_counter() - t0

    with Agent(bounds=[station.domain.x, station.domain.y], seed=seed, **options) as agent:
        for n in stops:
            t0, measuring[0] = time.perf_counter(), 0.0
            agent.run(instrument, max_points=n - agent.n, progress=False)
            thinking += time.perf_counter() - t0 - measuring[0]
            curve.points.append((agent.n, score(lambda X: agent.predict(station.to_mm(X)).mean)))
            if curve.points[-1][1] <= target:
                break
        curve.decision_s = thinking / max(1, agent.n)
    return curve


def random_curve(
    view: UnitSquareView, stops: list[int], score: Scorer, target: float, seed: int
) -> Curve:
    """One sequence of uniform random points, its first n linearly interpolated (no GP)."""
    rng = np.random.default_rng([seed, 12])
    X = rng.uniform(0.0, 1.0, size=(stops[-1], 2))
    y = np.empty(0)
    curve = Curve()
    for n in stops:
        y = np.concatenate([y, view.measure(X[len(y) : n], rng)])
        curve.points.append((n, score(interpolator(X[:n], y))))
        if curve.points[-1][1] <= target:
            break
    return curve


def learner2d_curve(
    view: UnitSquareView, stops: list[int], score: Scorer, target: float, seed: int
) -> Curve:
    """python-adaptive's ``Learner2D`` grown to each checkpoint (:mod:`benchmarks.baselines`)."""
    run = Learner2DRun(view, np.random.default_rng([seed, 14]))
    curve = Curve()
    for n in stops:
        curve.points.append((n, score(run.advance_to(n))))
        if curve.points[-1][1] <= target:
            break
    curve.decision_s = run.choosing_s / max(1, run.n)
    return curve


def gpcam_curve(
    view: UnitSquareView, stops: list[int], score: Scorer, target: float, seed: int
) -> Curve:
    """``anchors.gpcam_mapping_loop`` to the last checkpoint, scored at every checkpoint."""
    trace = gpcam_mapping_loop(
        view,
        GPCAM_INITIAL,
        stops[-1],
        np.random.default_rng([seed, 13]),
        score_at=stops,
        on_score=lambda n, mean: score(mean),
    )
    seconds = trace.decision_seconds
    return Curve(
        points=[(n, e) for n, e in trace.scores if n >= stops[0]],
        decision_s=float(seconds.mean()) if len(seconds) else None,
    )


# ----------------------------------------------------------------------------- driver


def run_station(
    kind: str, seed: int, args: argparse.Namespace, store: Store, label: str, options: dict
) -> None:
    """Measure every method not yet in ``store`` for one station, sample seed and raster."""
    methods: dict[str, Callable[..., Curve]] = {
        label: lambda *a: gpsteer_curve(*a, options),
        "Learner2D": learner2d_curve,
        "random": random_curve,
    }
    if not args.skip_gpcam:
        methods["gpCAM"] = gpcam_curve
    prefix = f"{kind}|{args.raster}"
    todo = [
        m
        for m in methods
        if f"{prefix}|{m}|{seed}" not in store.curves
        or (
            args.diagnose
            and seed == args.seeds[0]
            and "diagnosis" not in store.curves[f"{prefix}|{m}|{seed}"]
        )
    ]
    if not todo and f"{prefix}|raster|{seed}" in store.curves:
        return
    station = SimulatedStation(kind, seed, args.exposure)
    n_raster = args.raster**2
    grid_unit = cell_centres(args.score_grid)
    truth = station.truth(station.to_mm(grid_unit))
    score = Scorer(truth, grid_unit)
    view = UnitSquareView(station, noise_std=math.nan, name=kind)
    t0 = time.perf_counter()
    raster = score(raster_map(view, n_raster, np.random.default_rng([seed, 10])))
    raster_positions = np.array(station.positions, float)
    view.noise_std = float(np.sqrt(np.median(station.variances)))  # gpCAM's constant noise
    store.curves[f"{prefix}|raster|{seed}"] = {
        "nrmse": raster,
        "noise_std_median": view.noise_std,
        "retakes": station.retakes,
        "readings": station.readings,
    }
    store.save()
    print(
        f"[{kind} seed {seed}] raster {args.raster}x{args.raster}: NRMSE {raster:.4f} "
        f"({time.perf_counter() - t0:.0f} s)",
        flush=True,
    )
    diagnosing = args.diagnose and seed == args.seeds[0]
    if diagnosing:
        spacing = (station.domain.x[1] - station.domain.x[0]) / (args.raster - 1)
        zones = Zones.build(
            station, band_mm=spacing + args.band_widths * step_width(station.sample)
        )
        grid_labels = zones.label(station.to_mm(grid_unit))
        store.curves[f"{prefix}|raster|{seed}"]["diagnosis"] = {
            "band_mm": zones.band_mm,
            "area_shares": [float(np.mean(grid_labels == i)) for i in range(len(ZONES))],
            "raster": diagnose_raster(
                station,
                args.raster,
                grid_unit,
                truth,
                score.last,
                grid_labels,
                TARGET_FRACTION[kind],
            )
            | diagnose_method(zones, grid_labels, truth, raster, score.last, raster_positions),
        }
        store.save()
    stops = checkpoints(n_raster, args.max_fraction, targets=(TARGET_FRACTION[kind],))
    for name in todo:
        t0, first = time.perf_counter(), len(station.positions)
        score.last = None
        outcome = attempt(methods[name], view, stops, score, raster, seed)
        curve = outcome.value if outcome.ok else Curve(error=outcome.error)
        entry = {
            "curve": curve.points,
            "fraction": curve.fraction_reaching(raster, n_raster),
            "decision_s": curve.decision_s,
            "wall_s": time.perf_counter() - t0,
            "error": curve.error,
            "last_ratio": curve.points[-1][1] / raster if curve.points else None,
        }
        if diagnosing and score.last is not None:
            taken = np.array(station.positions[first:], float)
            entry["diagnosis"] = diagnose_method(
                zones, grid_labels, truth, raster, score.last, taken
            )
        store.curves[f"{prefix}|{name}|{seed}"] = entry
        store.save()
        last = curve.points[-1] if curve.points else (0, math.nan)
        shown = "not reached" if entry["fraction"] is None else f"{100 * entry['fraction']:.1f} %"
        failure = f"; {curve.error}" if curve.error else ""
        print(
            f"[{kind} seed {seed}] {name}: {shown}; NRMSE {last[1] / raster:.2f}x raster at "
            f"{last[0]} points ({entry['wall_s']:.0f} s){failure}",
            flush=True,
        )


def fraction_cell(entries: list[dict[str, Any] | None], max_fraction: float) -> tuple[str, bool]:
    """'mean % (per seed)' when every seed reached the raster, else how many did.

    Returns the cell and whether the mean is defined (every seed reached it).
    """
    if any(e is None for e in entries):
        return "not measured", False
    if any(e.get("error") for e in entries):
        return "failed", False
    fractions = [e["fraction"] for e in entries]
    per_seed = " / ".join(
        f"{100 * f:.1f}" if f is not None else f">{100 * max_fraction:.0f}" for f in fractions
    )
    if all(f is not None for f in fractions):
        return f"{100 * float(np.mean(fractions)):.1f} % ({per_seed})", True
    ratios = [e["last_ratio"] for e in entries if e["fraction"] is None]
    return (
        f"> {100 * max_fraction:.0f} % ({per_seed}; {np.mean(ratios):.2f}x)",
        False,
    )


def results_table(store: Store, args: argparse.Namespace, label: str, columns: list[str]) -> str:
    header = [
        "station (field)",
        "raster",
        "raster NRMSE",
        *columns,
        f"{label} s/decision",
        "target",
    ]
    rows = []
    for kind in args.stations:
        prefix = f"{kind}|{args.raster}"
        rasters = [store.curves.get(f"{prefix}|raster|{s}") for s in args.seeds]
        if any(r is None for r in rasters):
            continue
        cells, verdict = [], "-"
        for method in columns:
            entries = [store.curves.get(f"{prefix}|{method}|{s}") for s in args.seeds]
            cell, reached = fraction_cell(entries, args.max_fraction)
            cells.append(cell)
            if method == label:
                target = TARGET_FRACTION[kind]
                mean = np.mean([e["fraction"] for e in entries]) if reached else math.inf
                met = mean <= target + 1e-9  # 500 / 10000 is 0.05 up to rounding
                verdict = f"{'met' if met else 'MISSED'} (<= {100 * target:.0f} %)"
                times = [e["decision_s"] for e in entries if e and e.get("decision_s")]
                decision = f"{np.mean(times):.2f}" if times else "-"
        raster_nrmse = np.mean([r["nrmse"] for r in rasters])
        rows.append(
            [
                f"{kind} ({STATIONS[kind].event_field})",
                f"{args.raster}x{args.raster}",
                f"{raster_nrmse:.4f}",
                *cells,
                decision,
                verdict,
            ]
        )
    return markdown_table(header, rows)


def diagnosis_rows(store: Store, args: argparse.Namespace, columns: list[str]) -> list[dict]:
    rows = []
    for kind in args.stations:
        prefix, seed = f"{kind}|{args.raster}", args.seeds[0]
        raster = store.curves.get(f"{prefix}|raster|{seed}", {})
        if "diagnosis" not in raster:
            continue
        diag = dict(raster["diagnosis"])
        methods = {"raster": diag["raster"]}
        for m in columns:
            entry = store.curves.get(f"{prefix}|{m}|{seed}") or {}
            if "diagnosis" in entry:
                methods[m] = entry["diagnosis"]
        rows.append({"kind": kind, "diagnosis": diag | {"methods": methods}})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="14 x 14 raster, one seed, one station"
    )
    parser.add_argument("--raster", type=int, default=50, help="raster side (50 or 100)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="sample seeds")
    parser.add_argument(
        "--max-fraction", type=float, default=0.3, help="budget, fraction of raster"
    )
    parser.add_argument("--score-grid", type=int, default=250, help="cell centres per axis")
    parser.add_argument("--stations", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--label", default="gpsteer", help="column name of this gpsteer variant")
    parser.add_argument("--agent", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--skip-gpcam", action="store_true")
    parser.add_argument("--diagnose", action="store_true", help="error by zone, first seed")
    parser.add_argument(
        "--band-widths", type=float, default=0.0, help="widen the band (--diagnose)"
    )
    parser.add_argument("--exposure", type=float, default=0.1, help="exposure time, s")
    parser.add_argument("--wall-points", type=int, default=0, help="IOC run points (0: skip)")
    parser.add_argument("--velocity", type=float, default=5.0, help="IOC motor speed, mm/s")
    parser.add_argument("--fresh", action="store_true", help="forget stored results first")
    parser.add_argument(
        "--remeasure", action="store_true", help="forget this --label's results (not the others)"
    )
    parser.add_argument("--record", action="store_true", help="also write benchmarks/results/")
    parser.add_argument("--out", type=Path, default=Path("bench-output"))
    parser.add_argument("--threads", type=int, default=1, help="BLAS/torch threads (0: defaults)")
    args = parser.parse_args(argv)
    if args.quick:
        args.raster, args.seeds, args.stations = 14, args.seeds[:1], args.stations[:1]
        args.wall_points = min(args.wall_points, 10)
    if args.threads:
        limit_threads(args.threads)
    warnings.filterwarnings("ignore", category=UserWarning, module="fvgp|gpcam")
    options = parse_agent_options(args.agent)
    stem = "beamline_mapping_quick" if args.quick else "beamline_mapping"
    store_path = args.out / f"{stem}_store.json"
    if args.fresh and store_path.exists():
        store_path.unlink()
    store = Store(store_path)
    if args.remeasure:
        store.forget(args.label)
    store.check_label(args.label, options, gpsteer_configuration(options))
    for kind in args.stations:
        for seed in args.seeds:
            run_station(kind, seed, args, store, args.label, options)
    wall: dict[str, dict[str, float]] = {}
    if args.wall_points > 0:
        outcome = attempt(
            wall_time_per_point,
            args.stations,
            args.wall_points,
            args.velocity,
            args.exposure,
            args.seeds[0],
            options,
        )
        wall = outcome.value if outcome.ok else {}
        if not outcome.ok:
            print(f"wall-time run failed: {outcome.error}\n{outcome.details}", flush=True)

    labels = [m for m in store.methods if m != args.label]
    measured = {key.split("|")[2] for key in store.curves}
    columns = [args.label, *labels]
    columns += [m for m in ("gpCAM", "Learner2D", "random") if m in measured]
    md = results_table(store, args, args.label, columns)
    md += (
        f"\nFraction of the raster's points at which the map's NRMSE first matches the "
        f"raster's, mean over sample seeds {args.seeds} (per seed in brackets; '>x' = not "
        f"within the budget of {100 * args.max_fraction:.0f} %), scored every 2.5 % on "
        f"{args.score_grid} x {args.score_grid} cell centres (offset from the raster's "
        f"nodes); '(r x)': mean NRMSE / the raster's at the budget over the seeds that did not "
        f"reach it. Exposure {args.exposure} s. gpsteer variants: "
        + store.describe_variants()
        + "\n"
    )
    for kind, w in wall.items():
        md += (
            f"\nIOC run ({kind}, {w['n_timed']} points timed, motors {args.velocity} mm/s): "
            f"decision {w['decision_s']:.2f} s + move&measure {w['measure_s']:.2f} s = "
            f"{w['total_s']:.2f} s per point (longest axis travel "
            f"{w['longest_axis_travel_mm']:.1f} mm)\n"
        )
    rows = diagnosis_rows(store, args, columns) if args.diagnose else []
    if rows:
        md += "\n" + diagnosis_tables(rows, args.band_widths)
    env = environment(gpsteer=gpsteer_version(), gpcam=gpcam_version())
    title = f"Autonomous mapping vs a {args.raster} x {args.raster} raster, per end station"
    print(md, flush=True)
    payload = {"environment": env, "arguments": vars(args) | {"out": str(args.out)}, "wall": wall}
    write_outputs(args.out, f"{stem}_{args.raster}", title, md, env, payload)
    if args.record:
        record_result(f"{stem}-{args.raster}".replace("_", "-"), title, md, env, sys.argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
