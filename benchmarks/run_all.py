"""Run every benchmark in this folder in sequence (``make bench`` calls this).

Each ``bench_*.py`` runs in its own process (a crash or a leaked Dask cluster in one
cannot spoil the timings of the next), from the repository root, with ``--out`` and,
with ``--quick``, ``--quick`` passed through. The exit status is non-zero if any
benchmark failed.

Run: ``python benchmarks/run_all.py [--quick] [--only gp_training] [--out bench-output]``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def discover() -> list[str]:
    """Names of the benchmark modules here, without the ``bench_`` prefix, sorted."""
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fast smoke run of every benchmark")
    parser.add_argument("--only", nargs="+", choices=discover(), help="run just these")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-output")
    parser.add_argument("--threads", type=int, help="passed on (0 = library defaults)")
    args = parser.parse_args(argv)
    names = args.only or discover()
    results = []
    for name in names:
        cmd = [sys.executable, "-m", f"benchmarks.bench_{name}", "--out", str(args.out)]
        if args.quick:
            cmd.append("--quick")
        if args.threads is not None:
            cmd += ["--threads", str(args.threads)]
        print(f"=== {name}: {' '.join(cmd)}", flush=True)
        t0 = time.perf_counter()
        code = subprocess.call(cmd, cwd=ROOT)
        results.append((name, code, time.perf_counter() - t0))
    print("=== summary")
    for name, code, seconds in results:
        print(f"{name:30s} {'ok' if code == 0 else f'FAILED (exit {code})':18s} {seconds:8.1f} s")
    return 0 if all(code == 0 for _, code, _ in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
