"""Autonomous mapping on synthetic 2-D fields: gpsteer vs gpCAM 8.6.1, raster and random.

For each field, each method measures points one at a time (noisy, the field's own
noise level) and the NRMSE of its map on a dense grid is recorded at each budget:

- gpsteer ``Agent`` with ``variance``, ``boundary`` and ``gradient`` acquisition (ask/tell,
  default training schedule, inline), told each reading's noise variance, as gpCAM is;
- gpCAM driven as its docs do (``ask(acquisition_function="variance")``, ``tell``,
  ``train`` on a schedule; :func:`benchmarks.anchors.gpcam_mapping_loop`);
- a raster scan of about the same number of points, linearly interpolated;
- uniformly random points, linearly interpolated.

Each NRMSE is the mean over ``--seeds`` seeds (each seed: its own measurement noise,
initial design and gpCAM restarts); one seed's differences of ~10 % are run-to-run
noise. Then the wall time of one decision with N = 1000 points already measured, both
engines, side by side (medians of 15).

Run: ``python benchmarks/bench_mapping.py [--quick] [--seeds 2] [--fields ...]
[--budgets ...] [--kernel matern52]``.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.anchors import (
    UNIT_SQUARE,
    _gpcam_optimizer,
    attempt,
    gpcam_mapping_loop,
    random_baseline,
    raster_baseline,
)
from benchmarks.fields import FIELDS, dense_grid, nrmse
from benchmarks.report import environment, limit_threads, markdown_table, write_outputs

N_INITIAL = 10
GPSTEER_ACQUISITIONS = ("variance", "boundary", "gradient")
#: Compared with gpCAM: a field counts if one of these is no worse at every budget.
COMPARED = ("variance", "boundary")


def gpsteer_curve(
    field,
    acquisition: str,
    budgets: list[int],
    seed: int,
    grid: np.ndarray,
    kernel: str = "matern52",
):
    """NRMSE at each budget and per-decision seconds of a gpsteer ask/tell loop.

    The agent is told the field's noise variance with every reading: gpCAM's loop
    gets the same (``noise_variances``), so both engines know the same.
    """
    from gpsteer import Agent

    rng = np.random.default_rng(seed)
    truth = field(grid)
    noise = field.noise_std**2
    agent = Agent(
        bounds=[(0.0, 1.0), (0.0, 1.0)], acquisition=acquisition, kernel=kernel, seed=seed
    )
    X0 = agent.ask(N_INITIAL).points  # the agent's own space-filling first design
    agent.tell(X0, field.measure(X0, rng), noise_variance=np.full(N_INITIAL, noise))
    curve, decisions = {}, []
    n = N_INITIAL
    while n < max(budgets):
        t0 = time.perf_counter()
        x = agent.ask(1).points
        t1 = time.perf_counter()
        y = field.measure(x, rng)
        t2 = time.perf_counter()
        agent.tell(x, y, noise_variance=np.full(len(y), noise))
        decisions.append((t1 - t0) + (time.perf_counter() - t2))
        n += 1
        if n in budgets:
            curve[n] = nrmse(truth, agent.predict(grid).mean)
    agent.close()
    return curve, np.array(decisions)


def gpcam_curve(field, budgets: list[int], seed: int):
    step = int(np.gcd.reduce(budgets))
    trace = gpcam_mapping_loop(
        field,
        N_INITIAL,
        max(budgets),
        np.random.default_rng(seed),
        score_every=step,
        score_grid=100,
    )
    curve = {n: e for n, e in trace.nrmse_curve if n in budgets}
    return curve, trace.decision_seconds


def decision_time_at(n_points: int, seed: int, repeats: int = 15) -> dict[str, float]:
    """Median seconds per decision with ``n_points`` already measured, both engines.

    Two numbers per engine: ``<engine>`` is one loop step as the mapping loop runs it
    (``tell`` the new reading, then ``ask`` the next point), the time a beamline waits
    between points; ``<engine>_ask`` is a repeated ``ask`` on unchanged data (gpsteer
    reuses its factor; gpCAM's first ask after a ``tell`` or ``train`` is the slow
    one). No training in either: both were trained once before timing.
    """
    from gpsteer import Agent

    field = FIELDS["smooth"]
    rng = np.random.default_rng(seed)
    X, y = field.sample(n_points, rng)
    extra_X, extra_y = field.sample(repeats, rng)
    noise = field.noise_std**2
    out: dict[str, float] = {}

    agent = Agent(bounds=[(0.0, 1.0), (0.0, 1.0)], seed=seed, train_schedule=None)
    agent.tell(X, y, noise_variance=np.full(n_points, noise))
    agent.train()
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
    agent.close()
    out["gpsteer"], out["gpsteer_ask"] = float(np.median(steps)), float(np.median(asks))

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


def mean_curves(field, budgets: list[int], seeds: list[int], grid, kernel: str) -> dict:
    """Each method's NRMSE at each budget, averaged over ``seeds``."""
    runs: dict[str, list[dict[int, float]]] = {}
    for seed in seeds:
        for acq in GPSTEER_ACQUISITIONS:
            run = attempt(gpsteer_curve, field, acq, budgets, seed, grid, kernel)
            runs.setdefault(f"gpsteer-{acq}", []).append(run.value[0] if run.ok else {})
            if not run.ok:
                print(f"{field.name} gpsteer-{acq} seed {seed} failed: {run.error}", flush=True)
        run = attempt(gpcam_curve, field, budgets, seed)
        runs.setdefault("gpcam-variance", []).append(run.value[0] if run.ok else {})
        if not run.ok:
            print(f"{field.name} gpCAM seed {seed} failed: {run.error}", flush=True)
        for label, baseline in (("raster", raster_baseline), ("random", random_baseline)):
            rng = np.random.default_rng(seed)
            runs.setdefault(label, []).append(
                {b: nrmse(field(grid), baseline(field, b, rng).predict(grid)[0]) for b in budgets}
            )
        print(f"{field.name} seed {seed}: done", flush=True)
    return {
        label: {b: float(np.mean([c.get(b, np.nan) for c in curves])) for b in budgets}
        for label, curves in runs.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fields", nargs="+", default=sorted(FIELDS), choices=sorted(FIELDS))
    parser.add_argument("--budgets", nargs="+", type=int, default=[50, 100, 200, 400])
    parser.add_argument("--seeds", type=int, default=2, help="seeds 0..n-1, NRMSE averaged")
    parser.add_argument("--kernel", default="matern52", help="gpsteer's kernel name")
    parser.add_argument("--decision-n", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="2 fields, budgets 25 and 50")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="bench-output/mapping")
    args = parser.parse_args(argv)
    if args.quick:
        args.fields, args.budgets, args.decision_n = ["smooth", "hot_spots"], [25, 50], 200
        args.seeds = 1
    if args.threads:
        limit_threads(args.threads)
    budgets = sorted(args.budgets)
    seeds = list(range(args.seeds))
    grid = dense_grid(100)
    rows, records = [], []
    curves: dict[str, dict[int, float]] = {}
    wins = 0
    for name in args.fields:
        curves = mean_curves(FIELDS[name], budgets, seeds, grid, args.kernel)
        verdicts = {acq: [] for acq in COMPARED}
        for b in budgets:
            row = {k: v[b] for k, v in curves.items()}
            for acq in COMPARED:
                verdicts[acq].append(row[f"gpsteer-{acq}"] <= row["gpcam-variance"])
            rows.append(
                [name, str(b)]
                + [f"{row[k]:.4f}" for k in curves]
                + ["/".join(_yes(verdicts[acq][-1]) for acq in COMPARED)]
            )
            records.append({"field": name, "budget": b, **row})
        wins += any(all(v) for v in verdicts.values())
    header = ["field", "points", *curves.keys(), " / ".join(COMPARED) + " <= gpCAM"]
    table = markdown_table(header, rows)
    times = decision_time_at(args.decision_n, 0)
    ratio = times["gpcam"] / times["gpsteer"]
    ask_ratio = times["gpcam_ask"] / times["gpsteer_ask"]
    ms = {k: v * 1e3 for k, v in times.items()}
    timing = (
        f"\nOne decision (tell the new reading, ask the next point) with N = {args.decision_n}"
        f" points: gpsteer {ms['gpsteer']:.0f} ms, gpCAM {ms['gpcam']:.0f} ms, ratio "
        f"{ratio:.1f}x (target >= 5x); a repeated ask on unchanged data: gpsteer "
        f"{ms['gpsteer_ask']:.0f} ms, gpCAM {ms['gpcam_ask']:.0f} ms, ratio {ask_ratio:.1f}x\n"
        f"gpsteer no worse than gpCAM at every budget on {wins} of {len(args.fields)} fields "
        f"(target: 4 of 5; one gpsteer acquisition per field, the better of variance and "
        f"boundary); NRMSE: mean of {len(seeds)} seed(s); gpsteer kernel {args.kernel}\n"
    )
    env = environment(gpsteer="gpsteer (Agent, inline training)", gpcam="gpCAM 8.6.1")
    title = "Mapping benchmark (NRMSE on a 100 x 100 grid)"
    print(f"{title}\n{env['summary']}\n{table}{timing}")
    write_outputs(
        Path(args.out),
        "mapping",
        title,
        table + timing,
        env,
        {"env": env, "rows": records, "decision": times, "seeds": seeds, "kernel": args.kernel},
    )
    return 0


def _yes(ok: bool) -> str:
    return "yes" if ok else "no"


if __name__ == "__main__":
    raise SystemExit(main())
