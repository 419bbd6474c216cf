"""Autonomous mapping on the synthetic fields: gpsteer against gpCAM, Learner2D, raster, random.

For each field of :mod:`benchmarks.fields` and each seed, every method measures noisy
points (the field's own noise level) up to the largest budget, and its map's NRMSE
on a 250 x 250 grid of cell centres (:func:`benchmarks.fields.cell_centres`, finer
than and offset from every raster) is recorded at each budget:

- gpsteer: ``Agent(bounds, seed=seed, **options)`` with its defaults unless
  ``--agent KEY=VALUE`` says otherwise, ``agent.run`` to each budget, told each
  reading's noise variance; the column is named by ``--label`` (default ``gpsteer``);
- gpCAM 8.6.1 as its docs drive it (:func:`benchmarks.anchors.gpcam_mapping_loop`);
- python-adaptive's ``Learner2D`` (:class:`benchmarks.baselines.Learner2DRun`);
- the raster of the same count (``round(sqrt(n))^2`` exact positions, noisy readings)
  and uniform random points, both linearly interpolated.

Each cell is the mean over seeds, with the standard deviation across seeds. The
verdict columns are issue 13's acceptance for the ``--label`` column: no worse than
the equal raster at every budget, at most half the raster's NRMSE at 400 points on
``sharp_boundary`` and ``hot_spots``, no worse than Learner2D at 200 and 400. Then the
wall time of one decision (tell + ask) with N = 1000 points, gpsteer and gpCAM.

Results go to a store (``--out``/mapping_store.json) after every run: an interrupted
run resumes where it stopped, and a second ``--label`` adds a column without
measuring the baselines again (``--fresh`` starts over).

Run: ``python -m benchmarks.bench_mapping [--quick] [--seeds 3] [--fields ...]
[--budgets 100 200 400] [--label NAME --agent KEY=VALUE ...] [--skip-decision]
[--record]``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from benchmarks.anchors import UNIT_SQUARE, _gpcam_optimizer, gpcam_version
from benchmarks.comparison import (
    BASELINES,
    Store,
    gpsteer_configuration,
    measure_all,
    parse_agent_options,
    seed_values,
)
from benchmarks.engines import gpsteer_version
from benchmarks.fields import FIELDS, cell_centres
from benchmarks.report import (
    environment,
    limit_threads,
    markdown_table,
    mean_and_spread,
    record_result,
    write_outputs,
)

SCORE_GRID = 250
#: Issue 13: at 400 points, at most this share of the raster's NRMSE on these fields.
HALF_RASTER_FIELDS = ("sharp_boundary", "hot_spots")
HALF_RASTER_BUDGET, HALF_RASTER_RATIO = 400, 0.5
#: Issue 13: no worse than the raster at these budgets, no worse than Learner2D at these.
RASTER_BUDGETS, LEARNER_BUDGETS = (100, 200, 400), (200, 400)


#: The Agent settings before issue 13 (stationary Matérn-5/2, maximum variance): timed
#: beside the current defaults, so "no more than 1.5x today's" is measured in one run.
PREVIOUS_DEFAULT = {"kernel": "matern52", "acquisition": "variance"}


def _time_agent(X, y, extra_X, extra_y, noise, seed, settings, repeats) -> tuple[float, float]:
    from gpsteer import Agent

    with Agent(bounds=[(0.0, 1.0), (0.0, 1.0)], seed=seed, **settings) as agent:
        agent.tell(X, y, noise_variance=np.full(len(y), noise))
        agent.train()
        agent.train()  # the second training sees the edges the first model revealed
        agent.ask(1)
        steps, asks = [], []
        for i in range(repeats):
            t0 = time.perf_counter()
            agent.tell(extra_X[i : i + 1], extra_y[i : i + 1], noise_variance=np.full(1, noise))
            agent.ask(1)
            t1 = time.perf_counter()
            agent.ask(1)
            asks.append(time.perf_counter() - t1)
            steps.append(t1 - t0)
    return float(np.median(steps)), float(np.median(asks))


def decision_time_at(n_points: int, seed: int, options: dict, repeats: int = 15) -> dict:
    """Median seconds per decision with ``n_points`` already measured, both engines.

    ``<engine>`` is one loop step as the mapping loop runs it (``tell`` the new
    reading, then ``ask`` the next point): what a beamline waits between points.
    ``<engine>_ask`` is a repeated ``ask`` on unchanged data. No training while timed:
    each engine is trained before (gpsteer twice, so an edge-aware kernel has its edges;
    ``train_schedule=None`` unless the options say otherwise). The points are a
    space-filling design, as a loop's are by then (a random design has holes that send
    ``map`` to its cheaper coverage branch). ``gpsteer_previous`` is the same for
    :data:`PREVIOUS_DEFAULT`.
    """
    from scipy.stats import qmc

    field = FIELDS["smooth"]
    rng = np.random.default_rng(seed)
    X = qmc.Sobol(2, scramble=True, seed=seed).random(n_points)
    y = field.measure(X, rng)
    extra_X, extra_y = field.sample(repeats, rng)
    noise = field.noise_std**2
    out: dict[str, float] = {}
    for key, settings in (
        ("gpsteer", {"train_schedule": None} | options),
        ("gpsteer_previous", {"train_schedule": None} | PREVIOUS_DEFAULT),
    ):
        out[key], out[f"{key}_ask"] = _time_agent(
            X, y, extra_X, extra_y, noise, seed, settings, repeats
        )

    gp = _gpcam_optimizer(X, y, np.full(n_points, noise))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        gp.train()
        gp.ask(UNIT_SQUARE, acquisition_function="variance")
        steps, asks = [], []
        for i in range(repeats):
            t0 = time.perf_counter()
            gp.tell(extra_X[i : i + 1], extra_y[i : i + 1], noise_variances=np.full(1, noise))
            gp.ask(UNIT_SQUARE, acquisition_function="variance")
            t1 = time.perf_counter()
            gp.ask(UNIT_SQUARE, acquisition_function="variance")
            asks.append(time.perf_counter() - t1)
            steps.append(t1 - t0)
    out["gpcam"], out["gpcam_ask"] = float(np.median(steps)), float(np.median(asks))
    return out


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values and not any(math.isnan(v) for v in values) else math.nan


def _mark(ok: bool | None) -> str:
    return "-" if ok is None else ("yes" if ok else "**no**")


def verdicts(field: str, budget: int, ours: float, raster: float, learner: float) -> list:
    """Issue 13's three checks for one cell: True/False, or None where a check does not apply."""
    known = not math.isnan(ours)
    le_raster = ours <= raster if budget in RASTER_BUDGETS and known else None
    half = (
        ours <= HALF_RASTER_RATIO * raster
        if field in HALF_RASTER_FIELDS and budget == HALF_RASTER_BUDGET and known
        else None
    )
    le_learner = ours <= learner if budget in LEARNER_BUDGETS and known else None
    if math.isnan(raster):
        le_raster = half = None
    if math.isnan(learner):
        le_learner = None
    return [le_raster, half, le_learner]


def results_table(store: Store, fields, budgets, seeds, label: str, columns) -> tuple[str, dict]:
    """The markdown table (mean ± sd over seeds) and the acceptance summary for ``label``."""
    header = ["field", "points", *columns, f"{label} <= raster", "<= 0.5x raster", "<= Learner2D"]
    rows, checks = [], {"raster": [], "half": [], "learner": []}
    for field in fields:
        for b in budgets:
            values = {c: seed_values(store, field, c, seeds, b) for c in columns}
            means = {c: _mean(v) for c, v in values.items()}
            marks = verdicts(field, b, means[label], means["raster"], means["Learner2D"])
            for name, ok in zip(checks, marks, strict=True):
                if ok is not None:
                    checks[name].append((field, b, ok))
            rows.append(
                [field, str(b)]
                + [mean_and_spread(values[c]) for c in columns]
                + [_mark(ok) for ok in marks]
            )
    return markdown_table(header, rows), checks


def acceptance_lines(label: str, checks: dict) -> str:
    def line(name: str, what: str) -> str:
        items = checks[name]
        misses = [f"{f} @{b}" for f, b, ok in items if not ok]
        met = len(items) - len(misses)
        tail = f" (missed: {', '.join(misses)})" if misses else ""
        return f"- {what}: {met} of {len(items)}{tail}"

    return "\n".join(
        [
            f"Issue 13 acceptance for '{label}' (means over seeds):",
            line("raster", "NRMSE <= the equal raster's at 100/200/400 points"),
            line("half", "NRMSE <= 0.5x the raster's at 400 on sharp_boundary, hot_spots"),
            line("learner", "NRMSE <= Learner2D's at 200/400 points"),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fields", nargs="+", default=sorted(FIELDS), choices=sorted(FIELDS))
    parser.add_argument("--budgets", nargs="+", type=int, default=[100, 200, 400])
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..n-1; NRMSE averaged")
    parser.add_argument("--label", default="gpsteer", help="column name of this gpsteer variant")
    parser.add_argument(
        "--agent",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help='an Agent keyword, JSON value (repeatable): --agent kernel=\\"matern32\\"',
    )
    parser.add_argument("--baselines", nargs="*", default=list(BASELINES), choices=list(BASELINES))
    parser.add_argument("--decision-n", type=int, default=1000)
    parser.add_argument("--skip-decision", action="store_true")
    parser.add_argument("--quick", action="store_true", help="2 fields, budgets 25 50, 1 seed")
    parser.add_argument("--fresh", action="store_true", help="forget stored results first")
    parser.add_argument(
        "--remeasure", action="store_true", help="forget this --label's results (not the others)"
    )
    parser.add_argument("--record", action="store_true", help="also write benchmarks/results/")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("bench-output"))
    args = parser.parse_args(argv)
    if args.quick:
        args.fields, args.budgets, args.decision_n, args.seeds = (
            ["smooth", "sharp_boundary"],
            [25, 50],
            200,
            1,
        )
    if args.threads:
        limit_threads(args.threads)
    options = parse_agent_options(args.agent)
    budgets, seeds = sorted(set(args.budgets)), list(range(args.seeds))
    stem = "mapping_quick" if args.quick else "mapping"
    store_path = args.out / f"{stem}_store.json"
    if args.fresh and store_path.exists():
        store_path.unlink()
    store = Store(store_path)
    if args.remeasure:
        store.forget(args.label)
    store.check_label(args.label, options, gpsteer_configuration(options))

    grid = cell_centres(SCORE_GRID)
    fields = [FIELDS[name] for name in args.fields]
    measure_all(store, fields, seeds, budgets, grid, args.label, options, args.baselines)

    labels = [m for m in store.methods if m != args.label]
    columns = [args.label, *labels, *args.baselines]
    for needed in ("raster", "Learner2D"):
        if needed not in columns:
            columns.append(needed)
    table, checks = results_table(store, args.fields, budgets, seeds, args.label, columns)
    text = (
        table + f"\nNRMSE on {SCORE_GRID} x {SCORE_GRID} cell centres, mean ± sd over seeds "
        f"{seeds}. gpsteer variants: "
        + store.describe_variants()
        + "\n\n"
        + acceptance_lines(args.label, checks)
        + "\n"
    )
    times = None
    if not args.skip_decision:
        times = decision_time_at(args.decision_n, 0, options)
        ms = {k: v * 1e3 for k, v in times.items()}
        text += (
            f"\nOne decision with N = {args.decision_n} points (a space-filling design), medians "
            f"of 15 (no training): tell + ask gpsteer '{args.label}' {ms['gpsteer']:.0f} ms, "
            f"the previous default (Matérn-5/2, variance) {ms['gpsteer_previous']:.0f} ms "
            f"({times['gpsteer'] / times['gpsteer_previous']:.2f}x), gpCAM {ms['gpcam']:.0f} ms "
            f"({times['gpcam'] / times['gpsteer']:.1f}x); a repeated ask "
            f"{ms['gpsteer_ask']:.0f} ms vs {ms['gpcam_ask']:.0f} ms (gpCAM).\n"
        )
    env = environment(gpsteer=gpsteer_version(), gpcam=gpcam_version(), adaptive=_adaptive())
    title = "Mapping on the synthetic fields"
    print(f"{title}\n{env['summary']}\n{text}")
    payload = {"env": env, "budgets": budgets, "seeds": seeds, "decision": times}
    write_outputs(args.out, stem, title, text, env, payload | {"store": str(store_path)})
    if args.record:
        record_result(stem, title, text, env, sys.argv)
    return 0


def _adaptive() -> str:
    try:
        import adaptive
    except ImportError as exc:
        return f"adaptive not installed ({exc}); run: pip install -e '.[bench]'"
    return f"adaptive {adaptive.__version__}"


if __name__ == "__main__":
    raise SystemExit(main())
