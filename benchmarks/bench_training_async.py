"""Asynchronous training benchmark: ask latency while training runs, and time to new values.

Two questions, at N = 1000 and 2000 noisy samples of a 2-D field:

1. **Does training on Dask slow the caller down?** An ask-like step (``manager.poll``
   then the posterior variance on 1000 candidates and its argmax, what a variance-driven
   ``Agent.ask`` does) is timed back to back, first with nothing training (idle), then
   while a Dask training job of the same model runs (busy). Target: busy median within
   2x the idle median. For reference: how long inline training blocks the caller.
2. **How soon do trained hyperparameters arrive?** Wall time from submission to
   accepted hyperparameters: gpsteer's Dask trainer (embedded cluster already running,
   and cold, including the cluster's start), gpsteer inline, and gpCAM 8.6.1
   ``train(asynchronous=True)`` + ``update_hyperparameters`` polled every 0.5 s (the
   first poll whose hyperparameters differ from the initial ones; gpCAM's asynchronous
   training is MCMC by default and runs until stopped).

Run: ``python -m benchmarks.bench_training_async [--ns 1000 2000] [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from benchmarks.anchors import attempt, gpcam_async_fit, gpcam_version, local_dask_client
from benchmarks.engines import gpsteer_version
from benchmarks.fields import FIELDS, dense_grid, get_field, nrmse
from benchmarks.report import environment, limit_threads, markdown_table, write_outputs

DEFAULT_NS = (1000, 2000)
N_CANDIDATES = 1000
LATENCY_TARGET = 2.0  # busy median / idle median
GPCAM_POLL_S = 0.5


@dataclass
class Row:
    """One N: ask latencies idle vs busy, and time to accepted hyperparameters."""

    n: int
    idle_median_ms: float = float("nan")
    idle_p90_ms: float = float("nan")
    busy_median_ms: float = float("nan")
    busy_p90_ms: float = float("nan")
    n_busy_asks: int = 0
    inline_blocks_s: float = float("nan")
    dask_warm_s: float = float("nan")
    dask_cold_s: float = float("nan")
    gpcam_first_update_s: float | None = None
    gpcam_near_best_s: float | None = None
    nrmse_gpsteer: float | None = None  #: posterior mean after the Dask job, 50x50 grid
    nrmse_gpcam: float | None = None  #: posterior mean at the end of gpCAM's window
    gpcam_error: str | None = None
    load: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.busy_median_ms / self.idle_median_ms


def _model(X: np.ndarray, y: np.ndarray, nv: np.ndarray):
    from gpsteer.gp import GaussianProcess

    gp = GaussianProcess(input_bounds=[(0.0, 1.0), (0.0, 1.0)])
    gp.set_data(X, y, noise_variance=nv)
    return gp


def _ask_like(manager, gp, candidates):
    """One ask: take in finished training, then argmax of posterior variance.

    Returns ``(seconds, outcome of the poll or None)``.
    """
    import torch

    t0 = time.perf_counter()
    outcome = manager.poll(gp)
    with torch.no_grad():
        variance = gp.posterior(candidates).variance
        int(torch.argmax(variance))
    return time.perf_counter() - t0, outcome


def _until_outcome(manager, gp, timeout: float = 600.0):
    """Poll (as asks would) until a job is taken in; return the outcome."""
    end = time.perf_counter() + timeout
    while time.perf_counter() < end:
        outcome = manager.poll(gp)
        if outcome is not None:
            return outcome
        time.sleep(0.02)
    raise TimeoutError("no training outcome")


def measure_latency(
    row: Row, trainer, X, y, nv, candidates, n_idle: int, seed: int, pause_s: float
) -> None:
    """Idle asks before and after asks while one Dask job runs (taken only while it runs).

    Idle asks on both sides of the busy ones, so a change of the machine's load during
    the measurement (it is shared) biases neither side.
    """
    from gpsteer.training import TrainingManager

    gp = _model(X, y, nv)
    gp.predict(X[:1])  # build the factor: asks then cost what they cost in a loop
    with TrainingManager(trainer, seed=seed, close_trainer=False) as manager:
        for _ in range(3):
            _ask_like(manager, gp, candidates)  # warm caches
        idle = []

        def idle_asks(count: int) -> None:
            for _ in range(count):
                idle.append(_ask_like(manager, gp, candidates)[0])
                time.sleep(pause_s)

        idle_asks(n_idle - n_idle // 2)
        manager.submit(gp)
        busy: list[float] = []
        outcome = None
        while outcome is None:
            running = manager.status().running
            t, outcome = _ask_like(manager, gp, candidates)
            if running and outcome is None and manager.status().running:
                busy.append(t)  # the whole ask overlapped the job
            time.sleep(pause_s)
        _ask_like(manager, gp, candidates)  # refactor with the new values: not an idle ask
        idle_asks(n_idle // 2)
    row.idle_median_ms = 1e3 * float(np.median(idle))
    row.idle_p90_ms = 1e3 * float(np.percentile(idle, 90))
    if busy:
        row.busy_median_ms = 1e3 * float(np.median(busy))
        row.busy_p90_ms = 1e3 * float(np.percentile(busy, 90))
    row.n_busy_asks = len(busy)


def time_inline(X, y, nv, seed: int) -> float:
    from gpsteer.training import TrainingManager

    gp = _model(X, y, nv)
    with TrainingManager("inline", seed=seed) as manager:
        t0 = time.perf_counter()
        manager.train_now(gp)
        return time.perf_counter() - t0


def time_dask(trainer, X, y, nv, seed: int):
    """Seconds from submission to accepted hyperparameters, and the trained model."""
    from gpsteer.training import TrainingManager

    gp = _model(X, y, nv)
    with TrainingManager(trainer, seed=seed, close_trainer=False) as manager:
        t0 = time.perf_counter()
        manager.submit(gp)
        outcome = _until_outcome(manager, gp)
        seconds = time.perf_counter() - t0
    if not outcome.accepted:
        raise RuntimeError("the Dask job was not accepted")
    return seconds, gp


def time_dask_cold(X, y, nv, seed: int) -> float:
    """Includes starting the embedded cluster and the workers' first imports."""
    from gpsteer.training import DaskTrainer

    with DaskTrainer() as trainer:
        return time_dask(trainer, X, y, nv, seed)[0]


def time_gpcam(X, y, nv, run_seconds: float, grid, truth_on_grid):
    """Seconds to gpCAM's first hyperparameter update, and to its near-best one.

    Near-best: the first poll whose log likelihood is within 1 of the best any poll in
    the window reached (gpCAM's MCMC wanders; this is when it had something as good as
    it would get). None where there was no update within ``run_seconds``. Also the
    NRMSE of gpCAM's posterior mean with the values it holds at the end of the window.
    """
    from gpcam import GPOptimizer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        initial = np.asarray(GPOptimizer(X, y, noise_variances=nv).hyperparameters).ravel()
    with local_dask_client(n_workers=1) as client:
        trace = gpcam_async_fit(
            X, y, nv, client, run_seconds=run_seconds, poll_seconds=GPCAM_POLL_S
        )
    error = nrmse(truth_on_grid, trace.fit.predict(grid)[0])
    updated = [(t, lml) for t, lml, hps in trace.polls if not np.allclose(hps, initial)]
    if not updated:
        return None, None, error
    best = max(lml for _, lml in updated)
    near = next(t for t, lml in updated if lml >= best - 1.0)
    return updated[0][0], near, error


def run(args: argparse.Namespace) -> list[Row]:
    from gpsteer.training import DaskTrainer

    truth = get_field(args.field)
    noise_var = truth.noise_std**2
    candidates = np.random.default_rng(99).uniform(0, 1, (N_CANDIDATES, 2))
    grid = dense_grid(50)
    truth_on_grid = truth(grid)
    rows = []
    with DaskTrainer() as trainer:
        trainer.start()
        Xw, yw = truth.sample(50, np.random.default_rng(1))
        time_dask(trainer, Xw, yw, np.full(50, noise_var), args.seed)  # workers import
        for n in args.ns:
            X, y = truth.sample(n, np.random.default_rng([args.seed, n]))
            nv = np.full(n, noise_var)
            row = Row(n=n, load=round(os.getloadavg()[0], 2))
            measure_latency(row, trainer, X, y, nv, candidates, args.asks, args.seed, args.pause)
            row.dask_warm_s, gp = time_dask(trainer, X, y, nv, args.seed)
            row.nrmse_gpsteer = nrmse(truth_on_grid, gp.predict(grid).mean)
            row.inline_blocks_s = time_inline(X, y, nv, args.seed)
            rows.append(row)
            print(_line(row), flush=True)
    for row in rows:  # after our cluster is gone: one cluster at a time
        X, y = truth.sample(row.n, np.random.default_rng([args.seed, row.n]))
        nv = np.full(row.n, noise_var)
        row.dask_cold_s = time_dask_cold(X, y, nv, args.seed)
        if "gpcam" in args.engines:
            got = attempt(time_gpcam, X, y, nv, args.gpcam_seconds, grid, truth_on_grid)
            if got.ok:
                row.gpcam_first_update_s, row.gpcam_near_best_s, row.nrmse_gpcam = got.value
                if row.gpcam_first_update_s is None:
                    row.notes.append(f"gpCAM: no update within {args.gpcam_seconds:g} s")
            else:
                row.gpcam_error = got.error
        print(_line(row), flush=True)
    return rows


def _line(r: Row) -> str:
    return (
        f"N={r.n:5d} ask idle {r.idle_median_ms:7.1f} ms, busy {r.busy_median_ms:7.1f} ms "
        f"({r.n_busy_asks} asks, x{r.ratio:.2f}); inline blocks {r.inline_blocks_s:.1f} s; "
        f"dask warm {r.dask_warm_s:.1f} s, cold {r.dask_cold_s:.1f} s; "
        f"gpCAM {_f(r.gpcam_first_update_s)} / {_f(r.gpcam_near_best_s)} s"
    )


def _f(x: float | None, spec: str = ".1f") -> str:
    return "-" if x is None or not np.isfinite(x) else format(x, spec)


def table(rows: list[Row]) -> str:
    header = [
        "N",
        "ask idle median/p90 [ms]",
        "ask during Dask training median/p90 [ms]",
        "busy/idle",
        "target <=2x",
        "inline training blocks [s]",
        "Dask warm -> accepted [s]",
        "Dask cold -> accepted [s]",
        "gpCAM async first update / near-best [s]",
        "NRMSE gpsteer (Dask) / gpCAM (async, end of window)",
        "load",
    ]
    body = []
    for r in rows:
        cam = (
            "failed"
            if r.gpcam_error
            else f"{_f(r.gpcam_first_update_s)} / {_f(r.gpcam_near_best_s)}"
        )
        body.append(
            [
                str(r.n),
                f"{_f(r.idle_median_ms)} / {_f(r.idle_p90_ms)}",
                f"{_f(r.busy_median_ms)} / {_f(r.busy_p90_ms)} ({r.n_busy_asks} asks)",
                _f(r.ratio, ".2f"),
                "met" if r.ratio <= LATENCY_TARGET else "MISSED",
                _f(r.inline_blocks_s),
                _f(r.dask_warm_s),
                _f(r.dask_cold_s),
                cam,
                f"{_f(r.nrmse_gpsteer, '.4f')} / {_f(r.nrmse_gpcam, '.4f')}",
                _f(r.load, ".1f"),
            ]
        )
    notes = [f"- N={r.n}: {n}" for r in rows for n in r.notes]
    notes += [f"- N={r.n} gpCAM: {r.gpcam_error}" for r in rows if r.gpcam_error]
    return markdown_table(header, body) + ("\n" + "\n".join(notes) + "\n" if notes else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ns", type=int, nargs="+", default=list(DEFAULT_NS))
    parser.add_argument("--field", default="smooth", choices=sorted(FIELDS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--asks", type=int, default=30, help="idle asks per N")
    parser.add_argument("--pause", type=float, default=0.05, help="seconds between asks")
    parser.add_argument("--engines", nargs="+", default=["gpsteer", "gpcam"])
    parser.add_argument("--gpcam-seconds", type=float, default=60.0, help="gpCAM poll window")
    parser.add_argument("--out", type=Path, default=Path("bench-output"))
    parser.add_argument("--quick", action="store_true", help="smoke run: N=300, few asks")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS/OpenMP/torch threads of this process (default 1; 0 = library defaults)",
    )
    args = parser.parse_args(argv)
    if args.threads > 0:
        limit_threads(args.threads)
    if args.quick:
        args.ns, args.asks, args.gpcam_seconds = [300], 10, 20.0
    env = environment(gpsteer=gpsteer_version(), gpcam=gpcam_version())
    print(f"Async training benchmark on field {args.field!r}: {env['summary']}", flush=True)
    rows = run(args)
    md = table(rows)
    print(md)
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    payload = {"settings": settings, "environment": env, "rows": [asdict(r) for r in rows]}
    write_outputs(args.out, "training_async", "Asynchronous training", md, env, payload)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
