"""Decision time (tell + ask) of the default Agent at large N, side by side.

One loop step as a beamline waits for it: ``tell`` one new reading, ``ask`` the next
point, on a model trained beforehand (no training while timed). Two designs of the
``smooth`` field: a raster (no hole wider than ``map``'s coverage floor, so every
decision takes the polished ``uncertainty`` branch: the expensive case) and a Sobol
design (as ``bench_mapping``'s decision time; its holes send ``map`` to the cheap
``coverage`` branch at large N). Side by side in one run, alternating step by step:

* ``neighbours``: the default, the polish on the model of the starts' 128 nearest
  points each, the end point scored with the exact model (``gpsteer.gp.local``);
* ``whole model``: the same agent with the polish on the whole model (before);
* gpCAM 8.6.1 ``tell`` + ``ask`` (variance) on the same data, where it is installed
  (the ``bench`` extra).

Run: ``python -m benchmarks.bench_decision [--n 1024 2025 3969] [--record]`` (about
25 min on 2 cores, mostly training the models at N = 3969 before the timing; gpCAM
up to ``--gpcam-up-to`` points).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from scipy.stats import qmc

from benchmarks.fields import FIELDS
from benchmarks.report import environment, limit_threads, markdown_table, record_result

MODES = ("neighbours", "whole model")


def design(kind: str, n: int, seed: int) -> np.ndarray:
    if kind == "raster":
        side = np.linspace(0.0, 1.0, round(np.sqrt(n)))
        return np.stack(np.meshgrid(side, side), -1).reshape(-1, 2)
    return qmc.Sobol(2, scramble=True, seed=seed).random(n)


def time_agent(X, y, extra_X, extra_y, noise: float, seed: int) -> dict[str, object]:
    """Median seconds per step in each mode, alternating, and the branches taken."""
    import gpsteer.acquisition.mapping as mapping
    from gpsteer import Agent

    neighbours = mapping.near
    steps: dict[str, list[float]] = {mode: [] for mode in MODES}
    reasons: set[str] = set()
    with Agent(bounds=[(0.0, 1.0), (0.0, 1.0)], seed=seed, train_schedule=None) as agent:
        agent.tell(X, y, noise_variance=np.full(len(y), noise))
        agent.train()
        agent.train()  # the second training sees the edges the first model revealed
        agent.ask(1)
        try:
            for i in range(len(extra_y)):
                mode = MODES[i % 2]
                # "whole model": the polish's stand-in is the model itself
                mapping.near = neighbours if mode == "neighbours" else (lambda gp, _: gp)
                t0 = time.perf_counter()
                agent.tell(extra_X[i : i + 1], extra_y[i : i + 1], noise_variance=[noise])
                suggestion = agent.ask(1)
                steps[mode].append(time.perf_counter() - t0)
                reasons.add(str(suggestion.terms[0].get("reason")))
        finally:
            mapping.near = neighbours
    return {mode: float(np.median(v)) for mode, v in steps.items()} | {"reasons": reasons}


def time_gpcam(X, y, extra_X, extra_y, noise: float, repeats: int) -> float | None:
    try:
        from benchmarks.anchors import UNIT_SQUARE, _gpcam_optimizer

        gp = _gpcam_optimizer(X, y, np.full(len(y), noise))
    except ImportError:
        return None
    steps = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        gp.train()
        gp.ask(UNIT_SQUARE, acquisition_function="variance")
        for i in range(repeats):
            t0 = time.perf_counter()
            gp.tell(extra_X[i : i + 1], extra_y[i : i + 1], noise_variances=np.full(1, noise))
            gp.ask(UNIT_SQUARE, acquisition_function="variance")
            steps.append(time.perf_counter() - t0)
    return float(np.median(steps))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", nargs="+", type=int, default=[1024, 2025, 3969])
    parser.add_argument("--designs", nargs="+", default=["raster", "sobol"])
    parser.add_argument("--steps", type=int, default=20, help="timed steps, both modes")
    parser.add_argument("--gpcam-steps", type=int, default=5)
    parser.add_argument(
        "--gpcam-up-to",
        type=int,
        default=2100,
        help="largest N timed with gpCAM (its training "
        "at N = 3969 ran for over 20 min and 3.6 GB here)",
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--record", action="store_true", help="also write benchmarks/results/")
    parser.add_argument("--quick", action="store_true", help="smoke run: one small raster")
    parser.add_argument("--out", type=Path, default=Path("bench-output"))
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.designs, args.steps, args.gpcam_steps = [256], ["raster"], 4, 2
    limit_threads(args.threads)
    warnings.simplefilter("ignore")
    field = FIELDS["smooth"]
    rows = []
    for kind in args.designs:
        for n in args.n:
            rng = np.random.default_rng(0)
            X = design(kind, n, seed=0)
            y = field.measure(X, rng)
            extra_X, extra_y = field.sample(args.steps, rng)
            noise = field.noise_std**2
            ours = time_agent(X, y, extra_X, extra_y, noise, seed=0)
            gpcam = None
            if len(X) <= args.gpcam_up_to:
                gpcam = time_gpcam(X, y, extra_X, extra_y, noise, args.gpcam_steps)
            local, whole = ours["neighbours"], ours["whole model"]
            row = [kind, str(len(X)), f"{1e3 * local:.0f}", f"{1e3 * whole:.0f}"]
            row += [f"{whole / local:.2f}", ", ".join(sorted(ours["reasons"]))]
            row += ["-", "-"] if gpcam is None else [f"{1e3 * gpcam:.0f}", f"{gpcam / local:.1f}"]
            rows.append(row)
            print(" | ".join(row), flush=True)
    header = ["design", "N", "neighbours ms", "whole model ms", "speed-up", "branch"]
    header += ["gpCAM ms", "gpCAM / neighbours"]
    table = markdown_table(header, rows)
    print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "decision.json").write_text(json.dumps({"header": header, "rows": rows}))
    if args.record:
        body = (
            f"Median of {args.steps // 2} steps per mode (tell + ask, alternating), "
            f"{args.threads} thread(s); gpCAM: median of {args.gpcam_steps}.\n\n{table}"
        )
        record_result("decision-time", "Decision time at large N", body, environment(), sys.argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
