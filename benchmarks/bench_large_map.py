"""Large maps: the default Agent told tens of thousands of points, and its map at N = 5000.

Two questions, each case in a fresh process (so its peak memory is its own):

* **scale**: the default ``Agent`` is told N points of a field (a Sobol design, or a
  raster, where every decision takes the polished ``uncertainty`` branch), trained
  (``Agent.train()``), then steps ``tell`` one reading + ``ask`` one point. Recorded:
  seconds to take the data in and to train, median and largest step, the peak resident
  memory of the process, and the map's NRMSE on a 250 x 250 grid beside linear
  interpolation of the same points (the anchor a user would otherwise use: an exact GP,
  gpCAM's included, does not fit in memory at these sizes).
* **quality**: at N = 5000 the default agent (beyond ``exact_limit``: predictions from
  each point's 64 nearest data) against the exact GP with the *same* data and
  hyperparameters (``Agent.from_state(state, exact_limit=None)``): the map's NRMSE of
  both, and their ratio, on several fields and seeds.

* **cluster** (``--cluster 200000``): the default agent told that many points trains on
  an external Dask cluster (a ``dask scheduler`` and two ``dask worker`` processes
  started by command on 127.0.0.1, as ``tests/system`` starts them); recorded: the
  training's wall time, each worker's peak memory, one tell + ask.

Run: ``python -m benchmarks.bench_large_map [--scale 10000 50000] [--cluster 200000]
[--record]`` (about 20 min on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from scipy.interpolate import LinearNDInterpolator, NearestNDInterpolator
from scipy.stats import qmc

from benchmarks.fields import FIELDS, cell_centres, nrmse
from benchmarks.report import environment, limit_threads, markdown_table, record_result

BOUNDS = [(0.0, 1.0), (0.0, 1.0)]


def design(kind: str, n: int, seed: int) -> np.ndarray:
    if kind == "raster":
        side = np.linspace(0.0, 1.0, round(np.sqrt(n)))
        return np.stack(np.meshgrid(side, side), -1).reshape(-1, 2)
    return qmc.Sobol(2, scramble=True, seed=seed).random(n)


def interpolation_nrmse(X: np.ndarray, y: np.ndarray, grid: np.ndarray, truth: np.ndarray) -> float:
    values = LinearNDInterpolator(X, y)(grid)
    holes = np.isnan(values)
    values[holes] = NearestNDInterpolator(X, y)(grid[holes])
    return nrmse(truth, values)


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """``fn(*args, **kwargs)`` and the seconds it took."""
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def peak_memory_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # kB on Linux


def scale_case(field_name: str, kind: str, n: int, steps: int, seed: int) -> dict[str, object]:
    from gpsteer import Agent

    field = FIELDS[field_name]
    rng = np.random.default_rng(seed)
    X = design(kind, n, seed)
    y = field.measure(X, rng)
    noise = np.full(len(y), field.noise_std**2)
    extra_X, extra_y = field.sample(steps, rng)
    grid = cell_centres(250)
    truth = field(grid)
    with Agent(bounds=BOUNDS, seed=seed) as agent:
        _, tell_s = timed(agent.tell, X, y, noise_variance=noise)
        _, train_s = timed(agent.train)
        times, reasons = [], set()
        for i in range(steps):
            t0 = time.perf_counter()
            agent.tell(extra_X[i : i + 1], extra_y[i : i + 1], noise_variance=noise[:1])
            suggestion = agent.ask(1)
            times.append(time.perf_counter() - t0)
            reasons.add(str(suggestion.terms[0].get("reason")))
        mapped, map_s = timed(agent.predict, grid)
        return {
            "field": field_name,
            "design": kind,
            "n": agent.n,
            "model": agent.model_kind,
            "tell_s": tell_s,
            "train_s": train_s,
            "step_median_ms": 1e3 * float(np.median(times)),
            "step_max_ms": 1e3 * float(np.max(times)),
            "branches": sorted(reasons),
            "map_s": map_s,
            "nrmse": nrmse(truth, mapped.mean),
            "interpolation_nrmse": interpolation_nrmse(agent.X, agent.y, grid, truth),
            "peak_gb": peak_memory_gb(),
        }


def quality_case(field_name: str, n: int, seed: int) -> dict[str, object]:
    from gpsteer import Agent

    field = FIELDS[field_name]
    rng = np.random.default_rng(seed)
    X = design("sobol", n, seed)
    y = field.measure(X, rng)
    noise = np.full(len(y), field.noise_std**2)
    grid = cell_centres(100)
    truth = field(grid)
    with Agent(bounds=BOUNDS, seed=seed) as agent:
        agent.tell(X, y, noise_variance=noise)
        agent.train()
        local, local_s = timed(agent.predict, grid)
        state = agent.state()
        kind = agent.model_kind
    with Agent.from_state(state, exact_limit=None) as exact_agent:
        exact, exact_s = timed(exact_agent.predict, grid)
    return {
        "field": field_name,
        "seed": seed,
        "n": n,
        "model": kind,
        "nrmse": nrmse(truth, local.mean),
        "exact_nrmse": nrmse(truth, exact.mean),
        "map_s": local_s,
        "exact_map_s": exact_s,
    }


def cluster_case(field_name: str, n: int, steps: int, seed: int) -> dict[str, object]:
    import tempfile

    from distributed import Client
    from tests.system.dask_processes import dask_processes

    from gpsteer import Agent

    field = FIELDS[field_name]
    rng = np.random.default_rng(seed)
    X = design("sobol", n, seed)
    y = field.measure(X, rng)
    noise = np.full(len(y), field.noise_std**2)
    with tempfile.TemporaryDirectory() as tmp, dask_processes(Path(tmp), n_workers=2) as cluster:
        with Agent(bounds=BOUNDS, seed=seed, training=cluster.address) as agent:
            t0 = time.perf_counter()
            agent.tell(X, y, noise_variance=noise)  # the schedule submits a job
            tell_s = time.perf_counter() - t0
            future = agent.training_future
            if future is not None:
                future.result(timeout=1800)
            agent.poll_training()
            train_s = time.perf_counter() - t0
            status = agent.training_status()
            extra_X, extra_y = field.sample(steps, rng)
            times = []
            for i in range(steps):  # the first re-reads the edges of the trained model
                t0 = time.perf_counter()
                agent.tell(extra_X[i : i + 1], extra_y[i : i + 1], noise_variance=noise[:1])
                agent.ask(1)
                times.append(time.perf_counter() - t0)
            with Client(cluster.address, timeout=30, set_as_default=False) as client:
                worker_gb = client.run(peak_memory_gb)
        return {
            "n": n,
            "model": agent.model_kind,
            "tell_s": tell_s,
            "train_s": train_s,
            "jobs": status.n_jobs,
            "accepted": status.n_accepted,
            "first_step_ms": 1e3 * times[0],
            "step_median_ms": 1e3 * float(np.median(times[1:])),
            "worker_peak_gb": sorted(worker_gb.values()),
            "peak_gb": peak_memory_gb(),
        }


def in_fresh_process(case: str, **kwargs: object) -> dict[str, object]:
    """Run one case in a new interpreter (its own peak memory); returns its result."""
    command = [sys.executable, "-m", "benchmarks.bench_large_map", "--case", case]
    command += ["--args", json.dumps(kwargs)]
    done = subprocess.run(
        command, capture_output=True, text=True, check=False, cwd=Path(__file__).parents[1]
    )
    if done.returncode != 0:
        raise RuntimeError(f"case {case} {kwargs} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", nargs="*", type=int, default=[10000, 50000])
    parser.add_argument("--scale-fields", nargs="+", default=["sharp_boundary", "smooth"])
    parser.add_argument("--designs", nargs="+", default=["sobol", "raster"])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--quality-n", type=int, default=5000)
    parser.add_argument("--quality-fields", nargs="*", default=list(FIELDS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--cluster", nargs="*", type=int, default=[], help="N on a Dask cluster")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--record", action="store_true", help="also write benchmarks/results/")
    parser.add_argument("--quick", action="store_true", help="smoke run: just past the limit")
    parser.add_argument("--out", type=Path, default=Path("bench-output"))
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--args", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    limit_threads(args.threads)
    warnings.simplefilter("ignore")
    if args.case:  # one case, in this (fresh) process
        run = {"scale": scale_case, "quality": quality_case, "cluster": cluster_case}[args.case]
        print(json.dumps(run(**json.loads(args.args))), flush=True)
        return 0
    if args.quick:  # every part once, a little beyond the exact limit
        args.scale, args.scale_fields, args.designs, args.steps = [3500], ["smooth"], ["sobol"], 3
        args.quality_n, args.quality_fields, args.seeds, args.cluster = 3200, ["smooth"], 1, []
    results: dict[str, list[dict[str, object]]] = {"scale": [], "quality": [], "cluster": []}

    scale_rows = []
    for n in args.scale:
        for name in args.scale_fields:
            for kind in args.designs:
                options = {"field_name": name, "kind": kind, "n": n, "steps": args.steps}
                r = in_fresh_process("scale", **options, seed=0)
                results["scale"].append(r)
                row = [name, kind, str(r["n"]), r["model"], f"{r['tell_s']:.1f}"]
                row += [
                    f"{r['train_s']:.1f}",
                    f"{r['step_median_ms']:.0f}",
                    f"{r['step_max_ms']:.0f}",
                ]
                row += [", ".join(r["branches"]), f"{r['peak_gb']:.2f}", f"{r['map_s']:.1f}"]
                row += [f"{r['nrmse']:.4f}", f"{r['interpolation_nrmse']:.4f}"]
                scale_rows.append(row)
                print(" | ".join(row), flush=True)
    scale_header = ["field", "design", "N", "model", "tell all s", "train s", "step median ms"]
    scale_header += [
        "step max ms",
        "branch",
        "peak GB",
        "map 250^2 s",
        "NRMSE",
        "interpolation NRMSE",
    ]

    quality_rows, ratios = [], []
    for name in args.quality_fields:
        per_seed = [
            in_fresh_process("quality", field_name=name, n=args.quality_n, seed=seed)
            for seed in range(args.seeds)
        ]
        results["quality"] += per_seed
        local = np.mean([r["nrmse"] for r in per_seed])
        exact = np.mean([r["exact_nrmse"] for r in per_seed])
        ratios.append(local / exact)
        row = [name, str(args.quality_n), per_seed[0]["model"], f"{exact:.4f}", f"{local:.4f}"]
        row += [f"{local / exact:.3f}", f"{np.mean([r['map_s'] for r in per_seed]):.1f}"]
        row += [f"{np.mean([r['exact_map_s'] for r in per_seed]):.1f}"]
        quality_rows.append(row)
        print(" | ".join(row), flush=True)
    quality_header = ["field", "N", "model", "exact NRMSE", "neighbours NRMSE", "ratio"]
    quality_header += ["map 100^2 s", "exact map s"]

    cluster_rows = []
    for n in args.cluster:
        options = {"field_name": "sharp_boundary", "n": n, "steps": max(args.steps, 2)}
        r = in_fresh_process("cluster", **options, seed=0)
        results["cluster"].append(r)
        row = [str(r["n"]), r["model"], f"{r['tell_s']:.1f}", f"{r['train_s']:.1f}"]
        row += [f"{r['jobs']} / {r['accepted']}", f"{r['first_step_ms']:.0f}"]
        row += [f"{r['step_median_ms']:.0f}"]
        row += [", ".join(f"{g:.2f}" for g in r["worker_peak_gb"]), f"{r['peak_gb']:.2f}"]
        cluster_rows.append(row)
        print(" | ".join(row), flush=True)
    cluster_header = ["N", "model", "tell all s", "tell to trained s", "jobs / accepted"]
    cluster_header += ["first tell + ask ms", "then median ms", "worker peak GB"]
    cluster_header += ["session peak GB"]

    sections = []
    if scale_rows:
        sections.append(
            "## Scale: the default Agent told N points\n\n"
            f"{args.threads} thread(s); step = tell 1 + ask 1, {args.steps} steps after "
            "`Agent.train()`; peak GB = the process's peak resident memory.\n\n"
            + markdown_table(scale_header, scale_rows)
        )
    if quality_rows:
        sections.append(
            f"## Quality at N = {args.quality_n}: neighbours vs the exact GP, same data and "
            f"hyperparameters (mean of {args.seeds} seeds, Sobol designs)\n\n"
            + markdown_table(quality_header, quality_rows)
            + f"\n\nLargest ratio: {max(ratios):.3f}"
        )
    if cluster_rows:
        sections.append(
            "## On an external Dask cluster (`dask scheduler` + 2 `dask worker`, one thread "
            "each, sharp_boundary, Sobol)\n\n" + markdown_table(cluster_header, cluster_rows)
        )
    body = "\n\n".join(sections) + "\n"
    print(body)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "large_map.json").write_text(json.dumps(results, indent=1))
    if args.record:
        record_result("large-map", "Large maps", body, environment(), sys.argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
