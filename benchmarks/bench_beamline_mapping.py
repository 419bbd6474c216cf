"""Beamline mapping benchmark: what fraction of a raster scan autonomous mapping needs.

For each simulated end station (SAXS ``q0``, ARPES ``band_energy``, IR
``band_ratio``; hidden samples of :mod:`gpsteer.sim_devices.samples`, seed 0) this
measures

1. **the raster reference**: a ``side x side`` raster (default 50 x 50, edges
   included) measured with the IOC's noise model, linearly interpolated onto a
   100 x 100 grid; its NRMSE against the noise-free ground truth (RMSE / range) is
   the target;
2. **the fraction of the raster's points** each method needs to reach that NRMSE,
   scored every ``side^2 / 40`` points (a 2.5 % resolution) up to ``--max-fraction``:
   gpsteer (``Agent.run``, GP posterior mean as the map), gpCAM 8.6.1
   (``anchors.gpcam_mapping_loop``: ``ask(acquisition_function="variance")``, its
   default training at 20, 40, 80, ... points, posterior mean as the map) and
   uniform random points (linearly interpolated, no GP);
3. **the wall time per point** of gpsteer with the real IOC and RunEngine:
   ``autonomous_plan`` with Dask training (one worker), motors at ``--velocity``
   mm/s, ``--exposure`` s exposures; per point the decision, the move + exposure +
   readout + reduction, and the total.

Measurements for 1 and 2 do not go over Channel Access: the instrument is the
sample's frame model plus the device's reduction (``frames.py``, ``reductions.py``),
exactly what the IOC and the ophyd device compute, with the same exposure. gpsteer
gets each reading's variance from the reduction; gpCAM gets the median of those
variances as its (constant) ``noise_variances``, the way its loop adapter is written.
A reading whose fit fails (NaN) is retaken, for every method alike, and counted.

``--diagnose`` adds where the error sits: each method's squared error on the scoring
grid (at its last scored point count) split into the band within one raster spacing
of the sample's domain boundary (SAXS grain boundary, ARPES flake edge, IR phase
interface; the 0.5 level of the step in :mod:`~gpsteer.sim_devices.samples`), the
small features (within 2.5 radii of their centres, outside the band) and the rest;
the share of each method's points that fell in the band; and the raster's error
split into interpolation (the same raster of noise-free values) and noise.
``--band-widths k`` widens the band by k widths of the sample's step (IR's interface
is 0.6 mm wide, wider than a raster spacing).

Run: ``python -m benchmarks.bench_beamline_mapping [--quick] [--raster 30]
[--stations saxs ir] [--skip-gpcam] [--wall-points 30] [--acquisition gradient]
[--kernel matern32] [--diagnose [--band-widths 2]]``.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from scipy.interpolate import griddata
from scipy.ndimage import distance_transform_edt

from benchmarks import anchors
from benchmarks.anchors import attempt, gpcam_mapping_loop, gpcam_version, raster_baseline
from benchmarks.engines import gpsteer_version
from benchmarks.fields import dense_grid, nrmse
from benchmarks.report import environment, limit_threads, markdown_table, write_outputs
from gpsteer.devices import reductions
from gpsteer.sim_devices.samples import Domain, make_sample

KINDS = ("saxs", "arpes", "ir")
#: Published fractions of the raster that autonomous mapping needed (DESIGN.md): targets.
TARGET_FRACTION = {"saxs": 0.15, "arpes": 0.12, "ir": 0.05}
SCORE_GRID = 100
N_INITIAL = 8  # space-filling (gpsteer) or random (gpCAM) points before the first model
MAX_RETAKES = 5


@dataclass(frozen=True)
class StationSpec:
    """What is mapped at one end station: the reduced field and its ground-truth key."""

    kind: str
    field: str  # reduction field (without the device prefix)
    truth: str  # key of ``sample.ground_truth``

    @property
    def event_field(self) -> str:
        return f"{self.kind}_{self.field}"


STATIONS = {
    "saxs": StationSpec("saxs", "q0", "q0"),
    "arpes": StationSpec("arpes", "band_energy", "band_energy"),
    "ir": StationSpec("ir", "band_ratio", "band_ratio"),
}


class SimulatedStation:
    """An end station's physics without Channel Access: frame model + device reduction.

    Positions are in mm over the sample's domain. ``read`` returns the reduced value
    and its variance per point, retaking a frame whose fit failed (NaN).
    """

    def __init__(self, kind: str, seed: int, exposure_s: float) -> None:
        self.spec = STATIONS[kind]
        self.sample = make_sample(kind, seed)
        self.domain: Domain = self.sample.domain
        self.exposure_s = float(exposure_s)
        self.retakes = 0
        self.readings = 0
        self.variances: list[float] = []
        self.positions: list[tuple[float, float]] = []  # every valid reading, mm

    def _reduce(self, frame: np.ndarray) -> dict[str, float]:
        s, t = self.sample, self.exposure_s
        if self.spec.kind == "saxs":
            return reductions.reduce_saxs(frame, s.geometry, t).as_fields()
        if self.spec.kind == "arpes":
            axes = s.axes
            reduced = reductions.reduce_arpes(
                frame, axes.energy(), axes.angle(), t, edge_width_ev=axes.edge_width_ev
            )
            return reduced.as_fields()
        return reductions.reduce_ir(s.axes.wavenumber(), frame).as_fields()

    def read_one(self, x: float, y: float, rng: np.random.Generator) -> tuple[float, float]:
        name = self.spec.field
        for _ in range(MAX_RETAKES):
            fields = self._reduce(self.sample.frame(float(x), float(y), self.exposure_s, rng))
            value, variance = fields[name], fields[f"{name}_variance"]
            self.readings += 1
            if math.isfinite(value) and math.isfinite(variance):
                self.variances.append(variance)
                self.positions.append((float(x), float(y)))
                return value, variance
            self.retakes += 1
        raise RuntimeError(f"{self.spec.kind}: no valid reading at ({x:.3f}, {y:.3f})")

    def read(self, points: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``(values, variances)`` at ``points`` (n, 2) in mm."""
        pairs = [self.read_one(x, y, rng) for x, y in np.asarray(points, float)]
        values, variances = np.array(pairs, dtype=float).reshape(-1, 2).T
        return values, variances

    def truth(self, points: np.ndarray) -> np.ndarray:
        points = np.asarray(points, float)
        return np.asarray(self.sample.ground_truth(points[:, 0], points[:, 1])[self.spec.truth])

    def to_mm(self, unit: np.ndarray) -> np.ndarray:
        lo = np.array([self.domain.x[0], self.domain.y[0]])
        hi = np.array([self.domain.x[1], self.domain.y[1]])
        return lo + np.asarray(unit, float) * (hi - lo)


@dataclass
class UnitSquareView:
    """The station seen as a ``benchmarks.fields.Field`` on [0, 1]^2 (for the anchors).

    ``noise_std`` is what ``gpcam_mapping_loop`` hands gpCAM as the (constant) noise.
    """

    station: SimulatedStation
    noise_std: float
    name: str = ""

    def __call__(self, X: np.ndarray) -> np.ndarray:
        return self.station.truth(self.station.to_mm(X))

    def measure(
        self, X: np.ndarray, rng: np.random.Generator, noise_std: float | None = None
    ) -> np.ndarray:
        return self.station.read(self.station.to_mm(X), rng)[0]

    def sample(
        self, n: int, rng: np.random.Generator, noise_std: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        X = rng.uniform(0.0, 1.0, size=(n, 2))
        return X, self.measure(X, rng)


@dataclass
class Curve:
    """NRMSE against the number of points, and the per-decision wall time."""

    points: list[tuple[int, float]] = field(default_factory=list)
    decision_s: list[float] = field(default_factory=list)
    error: str | None = None

    def fraction_reaching(self, target: float, n_raster: int) -> float | None:
        for n, err in self.points:
            if err <= target:
                return n / n_raster
        return None


def checkpoints(n_raster: int, max_fraction: float) -> list[int]:
    """Multiples of ``n_raster / 40`` (what gpCAM's loop scores at), from the first model on."""
    step = max(1, round(n_raster / 40))
    first = step * math.ceil((N_INITIAL + 1) / step)
    top = max(first, int(max_fraction * n_raster))
    return list(range(first, top + 1, step))


def interpolate(X: np.ndarray, y: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Linear interpolation inside the convex hull, nearest neighbour outside (as the raster)."""

    def predict(Xq: np.ndarray) -> np.ndarray:
        values = griddata(X, y, Xq, method="linear")
        holes = np.isnan(values)
        if holes.any():
            values[holes] = griddata(X, y, Xq[holes], method="nearest")
        return values

    return predict


# ----------------------------------------------------------------------------- methods


def gpsteer_curve(
    station: SimulatedStation,
    stops: list[int],
    score: Callable[[Callable[[np.ndarray], np.ndarray]], float],
    target: float,
    acquisition: str,
    seed: int,
    kernel: str = "matern52",
) -> Curve:
    """``Agent.run`` in chunks up to each checkpoint; stops once the target is reached."""
    from gpsteer import Agent

    rng = np.random.default_rng([seed, 11])
    bounds = [station.domain.x, station.domain.y]
    curve = Curve()
    measuring = [0.0]

    def instrument(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t0 = time.perf_counter()
        try:
            return station.read(points, rng)
        finally:
            measuring[0] += time.perf_counter() - t0

    def predict(X_unit: np.ndarray) -> np.ndarray:
        X = station.to_mm(X_unit)
        return np.concatenate([agent.predict(X[i : i + 4000]).mean for i in range(0, len(X), 4000)])

    with Agent(bounds=bounds, acquisition=acquisition, kernel=kernel, seed=seed) as agent:
        for n in stops:
            before, t0, measuring[0] = agent.n, time.perf_counter(), 0.0
            agent.run(instrument, max_points=n - agent.n, initial_points=N_INITIAL, progress=False)
            thinking = time.perf_counter() - t0 - measuring[0]
            curve.decision_s += [thinking / (agent.n - before)] * (agent.n - before)
            curve.points.append((agent.n, score(predict)))
            if curve.points[-1][1] <= target:
                break
    return curve


def random_curve(
    view: UnitSquareView,
    stops: list[int],
    score: Callable[[Callable[[np.ndarray], np.ndarray]], float],
    target: float,
    seed: int,
) -> Curve:
    """One sequence of uniform random points, its first n linearly interpolated (no GP)."""
    rng = np.random.default_rng([seed, 12])
    X = rng.uniform(0.0, 1.0, size=(stops[-1], 2))
    y = np.empty(0)
    curve = Curve()
    for n in stops:
        y = np.concatenate([y, view.measure(X[len(y) : n], rng)])
        curve.points.append((n, score(interpolate(X[:n], y))))
        if curve.points[-1][1] <= target:
            break
    return curve


def gpcam_curve(view: UnitSquareView, stops: list[int], seed: int) -> Curve:
    """``anchors.gpcam_mapping_loop`` to the last checkpoint, scored at every checkpoint."""
    step = stops[1] - stops[0] if len(stops) > 1 else stops[0]
    trace = gpcam_mapping_loop(
        view,
        N_INITIAL,
        stops[-1],
        np.random.default_rng([seed, 13]),
        score_every=step,
        score_grid=SCORE_GRID,
    )
    return Curve(
        points=[(n, e) for n, e in trace.nrmse_curve if n >= stops[0]],
        decision_s=list(trace.decision_seconds),
    )


# ----------------------------------------------------------------------------- diagnosis

ZONES = ("boundary band", "features", "rest")
BAND_GRID = 400  # fine grid for the distance to the boundary
FEATURE_RADII = 2.5  # a feature's zone: within this many radii (Gaussian sigmas)


def boundary_step(sample: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The sample's 0 -> 1 step across its domain boundary, at positions (mm)."""
    if sample.kind == "saxs":
        return np.asarray(sample.region(x, y))
    if sample.kind == "arpes":
        return np.asarray(sample.flake(x, y))
    truth = sample.ground_truth(x, y)  # IR: phase A's share of the A/B blend
    return np.asarray(truth["fraction_a"] / (truth["fraction_a"] + truth["fraction_b"]))


def step_width(sample: Any) -> float:
    """Width (mm) of the tanh step across the sample's domain boundary."""
    names = {"saxs": "boundary_width", "arpes": "edge_width", "ir": "interface_width"}
    return float(getattr(sample, names[sample.kind]))


@dataclass(frozen=True)
class Zones:
    """Which zone a position is in: near the domain boundary, a small feature, or the rest.

    Why: NRMSE against a raster is decided by where the error sits; the band's
    half-width (``band_mm``) is one raster spacing, the scale below which a raster
    cannot place a boundary, plus optionally a few widths of the step itself.
    """

    station: SimulatedStation
    band_mm: float
    distance: np.ndarray  # (BAND_GRID, BAND_GRID) distance to the 0.5 contour, mm

    @classmethod
    def build(cls, station: SimulatedStation, band_mm: float) -> Zones:
        d = station.domain
        xs, ys = d.grid(BAND_GRID)
        inside = boundary_step(station.sample, xs, ys) > 0.5
        if inside.all() or not inside.any():
            return cls(station, band_mm, np.full(inside.shape, np.inf))
        cell = ((d.y[1] - d.y[0]) / (BAND_GRID - 1), (d.x[1] - d.x[0]) / (BAND_GRID - 1))
        distance = np.maximum(
            distance_transform_edt(inside, sampling=cell),
            distance_transform_edt(~inside, sampling=cell),
        )
        return cls(station, band_mm, distance)

    def boundary_distance(self, points_mm: np.ndarray) -> np.ndarray:
        d, n = self.station.domain, BAND_GRID
        p = np.asarray(points_mm, float).reshape(-1, 2)
        ix = np.rint((p[:, 0] - d.x[0]) / (d.x[1] - d.x[0]) * (n - 1)).clip(0, n - 1)
        iy = np.rint((p[:, 1] - d.y[0]) / (d.y[1] - d.y[0]) * (n - 1)).clip(0, n - 1)
        return self.distance[iy.astype(int), ix.astype(int)]

    def label(self, points_mm: np.ndarray) -> np.ndarray:
        """0: boundary band, 1: feature (outside the band), 2: the rest."""
        p = np.asarray(points_mm, float).reshape(-1, 2)
        in_feature = np.zeros(len(p), bool)
        for f in self.station.sample.features:
            in_feature |= np.hypot(p[:, 0] - f.x, p[:, 1] - f.y) <= FEATURE_RADII * f.radius
        labels = np.where(in_feature, 1, 2)
        labels[self.boundary_distance(p) <= self.band_mm] = 0
        return labels


def error_shares(truth: np.ndarray, prediction: np.ndarray, labels: np.ndarray) -> list[float]:
    """Share of the squared error in each zone (sums to 1)."""
    sq = (np.asarray(prediction, float) - truth) ** 2
    total = float(sq.sum())
    return [float(sq[labels == i].sum()) / total for i in range(len(ZONES))]


def diagnose_method(
    zones: Zones,
    grid_labels: np.ndarray,
    truth: np.ndarray,
    target: float,
    prediction: np.ndarray,
    positions_mm: np.ndarray,
) -> dict[str, Any]:
    """Error shares per zone of one method's map, and the share of its points in the band."""
    at = zones.label(positions_mm)
    return {
        "n": len(positions_mm),
        "nrmse_ratio": nrmse(truth, prediction) / target,
        "error_shares": error_shares(truth, prediction, grid_labels),
        "point_shares": [float(np.mean(at == i)) for i in range(len(ZONES))],
    }


def diagnose_raster(
    station: SimulatedStation,
    side: int,
    grid_unit: np.ndarray,
    truth: np.ndarray,
    noisy: np.ndarray,
    grid_labels: np.ndarray,
    target_fraction: float,
) -> dict[str, Any]:
    """The raster's error split into interpolation (noise-free raster) and noise.

    Also the NRMSE of a noise-free raster with the target's share of the points:
    what uniform placement reaches at that budget even without noise.
    """

    def clean_raster(n_side: int) -> np.ndarray:
        nodes = dense_grid(n_side)
        return interpolate(nodes, station.truth(station.to_mm(nodes)))(grid_unit)

    clean = clean_raster(side)
    small_side = max(2, round(side * math.sqrt(target_fraction)))
    total = float(((noisy - truth) ** 2).sum())
    return {
        "target_side": small_side,
        "target_clean_nrmse": nrmse(truth, clean_raster(small_side)),
        "nrmse": nrmse(truth, noisy),
        "clean_nrmse": nrmse(truth, clean),
        "interpolation_share": float(((clean - truth) ** 2).sum()) / total,
        "noise_share": float(((noisy - clean) ** 2).sum()) / total,
        "clean_error_shares": error_shares(truth, clean, grid_labels),
    }


@contextlib.contextmanager
def keeping_gpcam_maps(store: dict[str, np.ndarray]) -> Iterator[None]:
    """Keep the last map gpCAM's loop scored (``store["last"]``), the loop itself unchanged.

    Why: ``anchors.gpcam_mapping_loop`` returns only its error curve; wrapping the
    predictor it builds is the way to see its map without a second, diverging loop.
    """
    original = anchors._gpcam_predictor

    def wrapped(gp: Any) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
        predict = original(gp)

        def keep(Xq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            mean, var = predict(Xq)
            store["last"] = np.asarray(mean)
            return mean, var

        return keep

    anchors._gpcam_predictor = wrapped
    try:
        yield
    finally:
        anchors._gpcam_predictor = original


# ----------------------------------------------------------------------------- wall time


def wall_time_per_point(
    kinds: list[str], n_points: int, velocity: float, exposure_s: float, seed: int
) -> dict[str, dict[str, float]]:
    """``autonomous_plan`` against each real IOC (subprocess), Dask training on one worker.

    Per point after the initial design: ``decision_s`` (the agent's recorded decision
    time), ``measure_s`` (agent event -> primary event: move, exposure, readout,
    reduction) and ``total_s`` (primary event to primary event).
    """
    from gpsteer.sim_devices.loopback import apply_loopback_env

    apply_loopback_env()  # before ophyd is imported
    from bluesky import RunEngine

    from gpsteer import Agent
    from gpsteer.devices.end_stations import end_station
    from gpsteer.plans import autonomous_plan
    from gpsteer.sim_devices.launcher import running_ioc
    from gpsteer.training import DaskTrainer

    out: dict[str, dict[str, float]] = {}
    RE = RunEngine(context_managers=[])
    with DaskTrainer(n_workers=1, processes=True) as trainer:
        trainer.start()
        for kind in kinds:
            with running_ioc(kind, seed=seed, velocity=velocity) as ioc:
                stage, detector = end_station(kind, ioc.prefix, timeout=15.0)
                detector.acq.acquire_time.set(exposure_s).wait(timeout=10)
                docs: list[tuple[str, dict[str, Any]]] = []
                token = RE.subscribe(lambda name, doc, docs=docs: docs.append((name, doc)))
                domain = ioc.sample().domain
                field_name = STATIONS[kind].event_field
                with Agent(bounds=[domain.x, domain.y], seed=seed, training=trainer.client) as ag:
                    t0 = time.perf_counter()
                    RE(
                        autonomous_plan(
                            [detector],
                            {stage.x: domain.x, stage.y: domain.y},
                            target=(field_name, f"{field_name}_variance"),
                            agent=ag,
                            max_points=n_points,
                            initial_points=N_INITIAL,
                            progress=False,
                        )
                    )
                    wall = time.perf_counter() - t0
                RE.unsubscribe(token)
                out[kind] = _per_point(docs, kind) | {"run_s": wall, "n_points": n_points}
    RE.loop.call_soon_threadsafe(RE.loop.stop)
    return out


def _per_point(docs: list[tuple[str, dict[str, Any]]], kind: str) -> dict[str, float]:
    streams = {d["uid"]: d["name"] for name, d in docs if name == "descriptor"}
    events = [(streams[d["descriptor"]], d) for name, d in docs if name == "event"]
    decision, measure, total, travel = [], [], [], []
    last_agent, last_primary = None, None
    axes = (f"{kind}_stage_x", f"{kind}_stage_y")
    for stream, doc in events:
        if stream == "agent" and doc["data"]["agent_action"] == "measure":
            last_agent = doc
        elif stream == "primary" and last_agent is not None:
            if int(last_agent["data"]["agent_decision"]) >= 1:  # after the initial design
                decision.append(float(last_agent["data"]["agent_decision_time"]))
                measure.append(doc["time"] - last_agent["time"])
                total.append(doc["time"] - last_primary["time"])
                step = [doc["data"][a] - last_primary["data"][a] for a in axes]
                travel.append(float(np.max(np.abs(step))))
            last_primary = doc
    return {
        "decision_s": statistics.median(decision),
        "measure_s": statistics.median(measure),
        "total_s": statistics.median(total),
        "total_mean_s": statistics.fmean(total),
        "longest_axis_travel_mm": statistics.median(travel),
        "n_timed": len(total),
    }


# ----------------------------------------------------------------------------- driver


def run_station(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    station = SimulatedStation(kind, args.seed, args.exposure)
    n_raster = args.raster**2
    grid_unit = dense_grid(SCORE_GRID)
    truth = station.truth(station.to_mm(grid_unit))
    maps: dict[str, np.ndarray] = {}  # the last map each method was scored on

    def score(predict: Callable[[np.ndarray], np.ndarray]) -> float:
        maps["last"] = np.asarray(predict(grid_unit))
        return nrmse(truth, maps["last"])

    t0 = time.perf_counter()
    view = UnitSquareView(station, noise_std=math.nan, name=kind)
    raster = raster_baseline(view, n_raster, np.random.default_rng([args.seed, 10]))
    target = score(lambda X: raster.predict(X)[0])
    noise_std = float(np.sqrt(np.median(station.variances)))  # gpCAM's constant noise
    view.noise_std = noise_std
    print(
        f"[{kind}] raster {args.raster}x{args.raster}: NRMSE {target:.4f} "
        f"({time.perf_counter() - t0:.0f} s)",
        flush=True,
    )

    stops = checkpoints(n_raster, args.max_fraction)
    result: dict[str, Any] = {
        "kind": kind,
        "field": STATIONS[kind].event_field,
        "raster_side": args.raster,
        "raster_points": n_raster,
        "raster_nrmse": target,
        "noise_std_median": noise_std,
        "checkpoints": stops,
        "target_fraction": TARGET_FRACTION[kind],
    }
    if args.diagnose:
        spacing = (station.domain.x[1] - station.domain.x[0]) / (args.raster - 1)
        band_mm = spacing + args.band_widths * step_width(station.sample)
        zones = Zones.build(station, band_mm=band_mm)
        grid_labels = zones.label(station.to_mm(grid_unit))
        raster_nodes = station.to_mm(dense_grid(args.raster))
        result["diagnosis"] = {
            "band_mm": band_mm,
            "area_shares": [float(np.mean(grid_labels == i)) for i in range(len(ZONES))],
            "raster": diagnose_raster(
                station,
                args.raster,
                grid_unit,
                truth,
                maps["last"],
                grid_labels,
                TARGET_FRACTION[kind],
            )
            | diagnose_method(zones, grid_labels, truth, target, maps["last"], raster_nodes),
        }
    methods: dict[str, Callable[[], Curve]] = {
        "gpsteer": lambda: gpsteer_curve(
            station, stops, score, target, args.acquisition, args.seed, args.kernel
        ),
        "random": lambda: random_curve(view, stops, score, target, args.seed),
    }
    if not args.skip_gpcam:
        methods["gpcam"] = lambda: gpcam_curve(view, stops, args.seed)
    for name, run in methods.items():
        t0, first = time.perf_counter(), len(station.positions)
        maps.pop("last", None)
        with keeping_gpcam_maps(maps) if args.diagnose else contextlib.nullcontext():
            outcome = attempt(run)
        curve = outcome.value if outcome.ok else Curve(error=outcome.error)
        seconds = time.perf_counter() - t0
        fraction = curve.fraction_reaching(target, n_raster)
        last = curve.points[-1] if curve.points else (0, math.nan)
        result[name] = {
            "curve": curve.points,
            "fraction": fraction,
            "last_n": last[0],
            "last_ratio": last[1] / target,
            "decision_s_mean": float(np.mean(curve.decision_s)) if curve.decision_s else None,
            "wall_s": seconds,
            "error": curve.error,
        }
        shown = "not reached" if fraction is None else f"{100 * fraction:.1f} %"
        print(
            f"[{kind}] {name}: {shown}; NRMSE {last[1] / target:.2f}x raster at "
            f"{last[0]} points ({seconds:.0f} s){'; ' + curve.error if curve.error else ''}",
            flush=True,
        )
        if args.diagnose and "last" in maps:
            taken = np.array(station.positions[first:], float)
            result["diagnosis"][name] = diagnose_method(
                zones, grid_labels, truth, target, maps["last"], taken
            )
    result["retakes"] = station.retakes
    result["readings"] = station.readings
    return result


def _fraction_cell(entry: dict[str, Any], max_fraction: float) -> str:
    if entry.get("error"):
        return "failed"
    if entry["fraction"] is None:
        return f"> {100 * max_fraction:.0f} % ({entry['last_ratio']:.2f}x)"
    return f"{100 * entry['fraction']:.1f} %"


def _verdict(row: dict[str, Any]) -> str:
    """Target met or missed; ahead of gpCAM by fraction, or by NRMSE at the budget."""
    ours, target = row["gpsteer"], row["target_fraction"]
    parts = [
        "met"
        if ours["fraction"] is not None and ours["fraction"] <= target
        else f"MISSED (<= {100 * target:.0f} %)"
    ]
    theirs = row.get("gpcam")
    if theirs is None or theirs.get("error") or ours.get("error"):
        return parts[0]
    if ours["fraction"] is not None or theirs["fraction"] is not None:
        a = math.inf if ours["fraction"] is None else ours["fraction"]
        b = math.inf if theirs["fraction"] is None else theirs["fraction"]
        parts.append("ahead of gpCAM" if a < b else "tied with gpCAM" if a == b else "behind gpCAM")
    else:  # neither reached the raster: compare the error at the budget (same point count)
        a, b = ours["last_ratio"], theirs["last_ratio"]
        word = "lower" if a < b else "higher"
        parts.append(f"{word} NRMSE than gpCAM at the budget ({a:.2f}x vs {b:.2f}x)")
    return "; ".join(parts)


def _shares(values: list[float]) -> str:
    return " / ".join(f"{100 * v:.0f}" for v in values)


def diagnosis_tables(rows: list[dict[str, Any]], band_widths: float = 0.0) -> str:
    """Markdown: where each method's squared error sits, and the raster's noise share."""
    raster_rows, method_rows = [], []
    for row in rows:
        diag = row.get("diagnosis")
        if not diag:
            continue
        r = diag["raster"]
        raster_rows.append(
            [
                row["kind"],
                f"{r['nrmse']:.4f}",
                f"{r['clean_nrmse']:.4f}",
                f"{r['target_clean_nrmse'] / r['nrmse']:.2f}x ({r['target_side']}^2)",
                f"{100 * r['interpolation_share']:.0f} %",
                f"{100 * r['noise_share']:.0f} %",
                _shares(r["clean_error_shares"]),
            ]
        )
        for method in ("raster", "gpsteer", "gpcam", "random"):
            if method not in diag:
                continue
            m = diag[method]
            method_rows.append(
                [
                    row["kind"],
                    method,
                    str(m["n"]),
                    f"{m['nrmse_ratio']:.2f}x",
                    _shares(m["error_shares"]),
                    _shares(m["point_shares"]),
                    _shares(diag["area_shares"]),
                ]
            )
    zones = " / ".join(ZONES)
    md = markdown_table(
        [
            "station",
            "raster NRMSE",
            "noise-free raster NRMSE",
            "noise-free raster at the target budget / raster NRMSE",
            "interpolation share of SSE",
            "noise share of SSE",
            f"noise-free raster SSE % ({zones})",
        ],
        raster_rows,
    )
    md += "\n" + markdown_table(
        [
            "station",
            "method",
            "points",
            "NRMSE / raster",
            f"SSE % ({zones})",
            f"points % ({zones})",
            f"area % ({zones})",
        ],
        method_rows,
    )
    md += (
        f"\nBoundary band: within one raster spacing + {band_widths:g} step widths of the domain "
        f"boundary (0.5 level of the step; half-width "
        + ", ".join(
            f"{r['kind']} {r['diagnosis']['band_mm']:.2f} mm" for r in rows if "diagnosis" in r
        )
        + f"); features: within {FEATURE_RADII} radii of a feature's centre, outside the "
        "band. Each method at its last scored point count.\n"
    )
    return md


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 14 x 14 raster, 10 IOC points on one station",
    )
    parser.add_argument("--raster", type=int, default=50, help="raster side (default 50)")
    parser.add_argument(
        "--max-fraction", type=float, default=0.3, help="budget, fraction of raster"
    )
    parser.add_argument("--stations", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--acquisition", default="variance", help="gpsteer acquisition name")
    parser.add_argument(
        "--kernel", default="matern52", help="gpsteer kernel name (gpCAM's is Matern-3/2)"
    )
    parser.add_argument(
        "--diagnose",
        action="store_true",
        help="also split each method's error into boundary band / features / rest",
    )
    parser.add_argument(
        "--band-widths",
        type=float,
        default=0.0,
        help="--diagnose: widen the boundary band by this many step widths (IR's is 0.6 mm)",
    )
    parser.add_argument("--exposure", type=float, default=0.1, help="exposure time, s")
    parser.add_argument("--velocity", type=float, default=5.0, help="IOC motor speed, mm/s")
    parser.add_argument(
        "--wall-points", type=int, default=30, help="points of the IOC run (0: skip)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-gpcam", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("bench-output"))
    parser.add_argument(
        "--threads", type=int, default=1, help="BLAS/OpenMP/torch threads (0: defaults)"
    )
    args = parser.parse_args(argv)
    wall_stations = list(args.stations)
    if args.quick:  # under ~2 minutes: a small raster, a short IOC run on one station
        args.raster, args.wall_points = 14, min(args.wall_points, 10)
        wall_stations = wall_stations[:1]
    if args.threads:
        limit_threads(args.threads)
    warnings.filterwarnings("ignore", category=UserWarning, module="fvgp|gpcam")

    rows = [run_station(kind, args) for kind in args.stations]
    wall: dict[str, dict[str, float]] = {}
    if args.wall_points > N_INITIAL:
        outcome = attempt(
            wall_time_per_point,
            wall_stations,
            args.wall_points,
            args.velocity,
            args.exposure,
            args.seed,
        )
        wall = outcome.value if outcome.ok else {}
        if not outcome.ok:
            print(f"wall-time run failed: {outcome.error}\n{outcome.details}", flush=True)

    env = environment(gpsteer=gpsteer_version(), gpcam=gpcam_version())
    header = [
        "station (field)",
        "raster",
        "raster NRMSE",
        "gpsteer",
        "gpCAM 8.6.1",
        "random",
        "decision s/pt gpsteer / gpCAM",
        "IOC s/pt: decision + move&measure = total (travel)",
        "target",
    ]
    table_rows = []
    for row in rows:
        kind = row["kind"]
        decisions = [row[m]["decision_s_mean"] for m in ("gpsteer", "gpcam") if m in row]
        w = wall.get(kind)
        table_rows.append(
            [
                f"{kind} ({row['field']})",
                f"{row['raster_side']}x{row['raster_side']} = {row['raster_points']}",
                f"{row['raster_nrmse']:.4f}",
                _fraction_cell(row["gpsteer"], args.max_fraction),
                _fraction_cell(row["gpcam"], args.max_fraction) if "gpcam" in row else "skipped",
                _fraction_cell(row["random"], args.max_fraction),
                " / ".join("-" if d is None else f"{d:.2f}" for d in decisions),
                "-"
                if not w
                else f"{w['decision_s']:.2f} + {w['measure_s']:.2f} = {w['total_s']:.2f} "
                f"({w['longest_axis_travel_mm']:.1f} mm)",
                _verdict(row),
            ]
        )
    md = markdown_table(header, table_rows)
    md += (
        f"\nFraction of the raster's points needed to reach the raster's NRMSE (scored every "
        f"{100 / 40:.1f} % on a {SCORE_GRID}x{SCORE_GRID} grid; '> x % (r)' = not reached "
        f"within the budget, NRMSE r times the raster's there). gpsteer acquisition "
        f"'{args.acquisition}', kernel '{args.kernel}', exposure {args.exposure} s; "
        f"IOC run: {args.wall_points} points, "
        f"motors {args.velocity} mm/s, medians after the {N_INITIAL}-point initial design "
        "(travel: longest axis move per point).\n"
    )
    if args.diagnose:
        md += "\n" + diagnosis_tables(rows, args.band_widths)
    print(md, flush=True)
    payload = {
        "environment": env,
        "arguments": vars(args) | {"out": str(args.out)},
        "stations": rows,
        "wall_time": wall,
    }
    stem = "beamline_mapping_quick" if args.quick else "beamline_mapping"
    write_outputs(args.out, stem, "Autonomous mapping vs raster, per end station", md, env, payload)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
