"""GP engine benchmark: gpsteer vs gpCAM 8.6.1 training time and accuracy.

Both engines fit the same noisy samples of a 2-D field (known noise variance passed
to both) at N = 250, 500, 1000, 2000. For each N it reports the wall time of
construction + default training + first factorisation, the ratio gpCAM/gpsteer, and
held-out NRMSE (posterior mean vs the noise-free field on a dense grid) and NLPD
(fresh noisy measurements on the same grid, predictive variance = latent variance +
the known noise variance).

Targets: at N=1000 gpsteer >= 10x faster than gpCAM's default ``train()`` with NRMSE
no worse than 1.05x gpCAM's; at N=2000 >= 20x faster.

Run: ``python -m benchmarks.bench_gp_training [--ns 250 500] [--field smooth]``.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from benchmarks.anchors import Attempt, attempt, gpcam_fit, gpcam_version
from benchmarks.engines import gpsteer_fit, gpsteer_version
from benchmarks.fields import FIELDS, dense_grid, get_field, nlpd, nrmse
from benchmarks.report import environment, markdown_table, write_outputs

DEFAULT_NS = (250, 500, 1000, 2000)
#: N -> (minimum speed-up, maximum NRMSE ratio gpsteer/gpCAM or None)
TARGETS = {1000: (10.0, 1.05), 2000: (20.0, None)}


@dataclass
class EngineResult:
    """One engine at one N; ``error`` set (and numbers None) when it failed."""

    train_seconds: float | None = None
    nrmse: float | None = None
    nlpd: float | None = None
    hyperparameters: tuple[float, ...] = ()
    error: str | None = None
    load_before: float = 0.0


@dataclass
class Row:
    """Both engines at one N, plus the speed-up and target verdict."""

    n: int
    gpsteer: EngineResult
    gpcam: EngineResult
    speedup: float | None
    target: str


def _score(run: Attempt, grid: np.ndarray, truth: np.ndarray, y_test, noise_var, load):
    if not run.ok:
        return EngineResult(error=run.error, load_before=load)
    fit = run.value
    mean, var = fit.predict(grid)
    return EngineResult(
        train_seconds=fit.train_seconds,
        nrmse=nrmse(truth, mean),
        nlpd=nlpd(y_test, mean, var + noise_var),
        hyperparameters=fit.hyperparameters,
        load_before=load,
    )


def _verdict(n: int, steer: EngineResult, cam: EngineResult, speedup: float | None) -> str:
    if n not in TARGETS:
        return "-"
    min_speedup, max_nrmse_ratio = TARGETS[n]
    if speedup is None or steer.nrmse is None or cam.nrmse is None:
        return "n/a (a run failed)"
    ok = speedup >= min_speedup
    text = f">={min_speedup:g}x"
    if max_nrmse_ratio is not None:
        ok = ok and steer.nrmse <= max_nrmse_ratio * cam.nrmse
        text += f", NRMSE<={max_nrmse_ratio:g}x"
    return ("met " if ok else "MISSED ") + text


ENGINES = {"gpsteer": gpsteer_fit, "gpcam": gpcam_fit}


def _warm_up(field_name: str, engines: list[str]) -> None:
    """One small fit per engine, so imports and thread pools are not timed."""
    field = get_field(field_name)
    X, y = field.sample(40, np.random.default_rng(12345))
    nv = np.full(len(y), field.noise_std**2)
    for name in engines:
        attempt(ENGINES[name], X, y, nv)


def run(ns: list[int], field_name: str, seed: int, grid_size: int, engines: list[str]) -> list[Row]:
    """Fit the engines at every N on the same data; print a line per fit as it ends."""
    field = get_field(field_name)
    noise_var = field.noise_std**2
    grid = dense_grid(grid_size)
    truth = field(grid)
    y_test = field.measure(grid, np.random.default_rng(seed + 1))
    _warm_up(field_name, engines)
    rows = []
    for n in ns:
        X, y = field.sample(n, np.random.default_rng([seed, n]))
        nv = np.full(n, noise_var)
        results = {}
        for name in ("gpsteer", "gpcam"):
            if name not in engines:
                results[name] = EngineResult(error="not run (--engines)")
                continue
            load = os.getloadavg()[0]
            run_ = attempt(ENGINES[name], X, y, nv)
            results[name] = _score(run_, grid, truth, y_test, noise_var, load)
            print(_line(name, n, results[name]), flush=True)
        steer, cam = results["gpsteer"], results["gpcam"]
        speedup = None
        if steer.train_seconds and cam.train_seconds:
            speedup = cam.train_seconds / steer.train_seconds
        rows.append(Row(n, steer, cam, speedup, _verdict(n, steer, cam, speedup)))
    return rows


def _line(name: str, n: int, r: EngineResult) -> str:
    if r.error:
        return f"N={n:5d} {name:8s} FAILED: {r.error}"
    return (
        f"N={n:5d} {name:8s} train {r.train_seconds:8.2f} s  NRMSE {r.nrmse:.4f}  "
        f"NLPD {r.nlpd:+.3f}  (load {r.load_before:.1f})"
    )


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def table(rows: list[Row]) -> str:
    """The markdown table of a run (one row per N)."""
    header = [
        "N",
        "gpsteer train [s]",
        "gpCAM train [s]",
        "gpCAM/gpsteer",
        "NRMSE gpsteer",
        "NRMSE gpCAM",
        "NLPD gpsteer",
        "NLPD gpCAM",
        "target",
    ]
    body = []
    for r in rows:
        body.append(
            [
                str(r.n),
                _fmt(r.gpsteer.train_seconds, ".2f") if not r.gpsteer.error else "failed",
                _fmt(r.gpcam.train_seconds, ".2f") if not r.gpcam.error else "failed",
                _fmt(r.speedup, ".1f") + ("x" if r.speedup else ""),
                _fmt(r.gpsteer.nrmse, ".4f"),
                _fmt(r.gpcam.nrmse, ".4f"),
                _fmt(r.gpsteer.nlpd, "+.3f"),
                _fmt(r.gpcam.nlpd, "+.3f"),
                r.target,
            ]
        )
    errors = [
        f"- N={r.n} {name}: {e.error}"
        for r in rows
        for name, e in (("gpsteer", r.gpsteer), ("gpCAM", r.gpcam))
        if e.error
    ]
    return markdown_table(header, body) + ("\n" + "\n".join(errors) + "\n" if errors else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ns", type=int, nargs="+", default=list(DEFAULT_NS), help="data sizes")
    parser.add_argument("--field", default="smooth", choices=sorted(FIELDS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--grid", type=int, default=100, help="evaluation grid side")
    parser.add_argument("--out", type=Path, default=Path("bench-output"))
    parser.add_argument(
        "--engines", nargs="+", default=list(ENGINES), choices=list(ENGINES), help="which to run"
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: N=250, 50x50 grid")
    args = parser.parse_args(argv)
    if args.quick:
        args.ns, args.grid = [250], 50
    env = environment(gpsteer=gpsteer_version(), gpcam=gpcam_version())
    print(f"GP engine benchmark on field {args.field!r}: {env['summary']}", flush=True)
    rows = run(args.ns, args.field, args.seed, args.grid, args.engines)
    md = table(rows)
    print(md)
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    payload = {"settings": settings, "environment": env, "rows": [asdict(r) for r in rows]}
    title = f"GP engine benchmark, field `{args.field}`"
    write_outputs(args.out, "gp_training", title, md, env, payload)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
