"""Autonomous mapping on synthetic 2-D fields: gpsteer vs gpCAM 8.6.1, raster and random.

For each field, each method measures points one at a time (noisy, the field's own
noise level) and the NRMSE of its map on a dense grid is recorded at each budget:

- gpsteer ``Agent`` with ``variance`` and with ``gradient`` acquisition (ask/tell,
  default training schedule, inline);
- gpCAM driven as its docs do (``ask(acquisition_function="variance")``, ``tell``,
  ``train`` on a schedule; :func:`benchmarks.anchors.gpcam_mapping_loop`);
- a raster scan of about the same number of points, linearly interpolated;
- uniformly random points, linearly interpolated.

Then the wall time of one decision with N = 1000 points already measured, both engines.

Run: ``python benchmarks/bench_mapping.py [--quick] [--fields ...] [--budgets ...]``.
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


def gpsteer_curve(field, acquisition: str, budgets: list[int], seed: int, grid: np.ndarray):
    """NRMSE at each budget and per-decision seconds of a gpsteer ask/tell loop."""
    from gpsteer import Agent

    rng = np.random.default_rng(seed)
    truth = field(grid)
    agent = Agent(bounds=[(0.0, 1.0), (0.0, 1.0)], acquisition=acquisition, seed=seed)
    X0 = agent.ask(N_INITIAL).points  # the agent's own space-filling first design
    agent.tell(X0, field.measure(X0, rng))
    curve, decisions = {}, []
    n = N_INITIAL
    while n < max(budgets):
        t0 = time.perf_counter()
        x = agent.ask(1).points
        t1 = time.perf_counter()
        y = field.measure(x, rng)
        t2 = time.perf_counter()
        agent.tell(x, y)
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


def decision_time_at(n_points: int, seed: int, repeats: int = 3) -> dict[str, float]:
    """Median seconds of one decision (ask one point) with ``n_points`` already measured."""
    from gpsteer import Agent

    field = FIELDS["smooth"]
    X, y = field.sample(n_points, np.random.default_rng(seed))
    agent = Agent(bounds=[(0.0, 1.0), (0.0, 1.0)], seed=seed, train_schedule=None)
    agent.tell(X, y)
    agent.train()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        agent.ask(1)
        times.append(time.perf_counter() - t0)
    agent.close()
    out = {"gpsteer": float(np.median(times))}
    gp = _gpcam_optimizer(X, y, np.full(n_points, field.noise_std**2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        gp.train()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            gp.ask(UNIT_SQUARE, acquisition_function="variance")
            times.append(time.perf_counter() - t0)
    out["gpcam"] = float(np.median(times))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fields", nargs="+", default=sorted(FIELDS), choices=sorted(FIELDS))
    parser.add_argument("--budgets", nargs="+", type=int, default=[50, 100, 200, 400])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--decision-n", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="2 fields, budgets 25 and 50")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="bench-output/mapping")
    args = parser.parse_args(argv)
    if args.quick:
        args.fields, args.budgets, args.decision_n = ["smooth", "hot_spots"], [25, 50], 200
    if args.threads:
        limit_threads(args.threads)
    budgets = sorted(args.budgets)
    grid = dense_grid(100)
    rows, records = [], []
    curves: dict[str, dict[int, float]] = {}
    for name in args.fields:
        field = FIELDS[name]
        curves = {}
        for acq in ("variance", "gradient"):
            run = attempt(gpsteer_curve, field, acq, budgets, args.seed, grid)
            curves[f"gpsteer-{acq}"] = run.value[0] if run.ok else {}
            if not run.ok:
                print(f"{name} gpsteer-{acq} failed: {run.error}", flush=True)
        run = attempt(gpcam_curve, field, budgets, args.seed)
        curves["gpcam-variance"] = run.value[0] if run.ok else {}
        if not run.ok:
            print(f"{name} gpCAM failed: {run.error}", flush=True)
        for label, baseline in (("raster", raster_baseline), ("random", random_baseline)):
            curves[label] = {
                b: nrmse(
                    field(grid),
                    baseline(field, b, np.random.default_rng(args.seed)).predict(grid)[0],
                )
                for b in budgets
            }
        for b in budgets:
            row = {k: v.get(b, float("nan")) for k, v in curves.items()}
            best = min(row["gpsteer-variance"], row["gpsteer-gradient"])
            rows.append(
                [name, str(b)]
                + [f"{row[k]:.4f}" for k in curves]
                + ["yes" if best <= row["gpcam-variance"] else "no"]
            )
            records.append({"field": name, "budget": b, **row})
        print(f"{name}: done", flush=True)
    header = ["field", "points", *curves.keys(), "gpsteer <= gpCAM"]
    table = markdown_table(header, rows)
    times = decision_time_at(args.decision_n, args.seed)
    ratio = times["gpcam"] / times["gpsteer"]
    steer_ms, cam_ms = times["gpsteer"] * 1e3, times["gpcam"] * 1e3
    timing = (
        f"\nOne decision with N = {args.decision_n} points: gpsteer {steer_ms:.0f} ms, "
        f"gpCAM {cam_ms:.0f} ms, ratio {ratio:.1f}x (target >= 5x)\n"
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
        {"env": env, "rows": records, "decision": times},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
