"""Does deciding one point ahead cost map quality? The Agent alone, in series and lag-1.

The plan decides the next point while the motors move to the current one
(``autonomous_plan(..., pipeline=True)``): each decision has one reading fewer and the
point being measured as pending. This replays both loops with the Agent alone, inline
training, the synthetic fields of ``benchmarks/fields.py`` and their noise, so the only
difference is the lag (no Dask timing, no devices):

* in series: ``ask(1)``, measure, ``tell``;
* pipelined: ``ask(1, current_position=p, pending=[p])`` while ``p`` is "measured",
  then ``tell(p)``.

Both start from the Agent's 8-point design. NRMSE of the posterior mean on a 100 x 100
grid of cell centres, per field, budget and seed; the table gives the mean over seeds.

Run: ``python -m benchmarks.bench_pipeline_quality [--seeds 0 1 2] [--budgets 100 200]
[--fields ...] [--record]`` (about 15 min on 2 cores for 5 fields x 3 seeds).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from benchmarks.fields import FIELDS, cell_centres, nrmse
from benchmarks.report import (
    environment,
    limit_threads,
    markdown_table,
    mean_and_spread,
    record_result,
    write_outputs,
)

INITIAL = 8


def map_errors(field_name: str, seed: int, pipelined: bool, budgets: list[int]) -> dict[int, float]:
    """NRMSE at each budget of one run."""
    from gpsteer import Agent

    field = FIELDS[field_name]
    rng = np.random.default_rng(1000 + seed)
    grid = cell_centres(100)
    truth = field(grid)
    noise = field.noise_std**2
    agent = Agent([(0.0, 1.0), (0.0, 1.0)], seed=seed, num_threads=1)

    def tell(X: np.ndarray) -> None:
        agent.tell(X, field.measure(X, rng), noise_variance=np.full(len(X), noise))

    tell(agent.ask(INITIAL).points)
    errors: dict[int, float] = {}
    moving_to = agent.ask(1).points if pipelined else None
    while agent.n < max(budgets):
        if pipelined:
            after = agent.ask(1, current_position=moving_to[0], pending=moving_to).points
            tell(moving_to)
            moving_to = after
        else:
            tell(agent.ask(1).points)
        if agent.n in budgets:
            errors[agent.n] = nrmse(truth, agent.predict(grid).mean)
    agent.close()
    return errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fields", nargs="+", default=list(FIELDS), choices=list(FIELDS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--budgets", type=int, nargs="+", default=[100, 200])
    parser.add_argument("--out", type=Path, default=Path("bench-output"))
    parser.add_argument("--record", action="store_true", help="write benchmarks/results/...")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 field, 1 seed, 20")
    parser.add_argument("--threads", type=int, default=1, help="BLAS/torch threads (0: defaults)")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    if args.threads:
        limit_threads(args.threads)
    if args.quick:
        args.fields, args.seeds, args.budgets = ["sharp_boundary"], [0], [20]
    runs: dict[tuple[str, str], list[dict[int, float]]] = {}
    for field_name in args.fields:
        for seed in args.seeds:
            for mode in ("in series", "pipelined"):
                errors = map_errors(field_name, seed, mode == "pipelined", args.budgets)
                runs.setdefault((field_name, mode), []).append(errors)
                print(field_name, seed, mode, errors, flush=True)
    rows = []
    for field_name in args.fields:
        for budget in sorted(args.budgets):
            series = [r[budget] for r in runs[(field_name, "in series")]]
            ahead = [r[budget] for r in runs[(field_name, "pipelined")]]
            ratio = float(np.mean(ahead) / np.mean(series))
            rows.append(
                [
                    field_name,
                    str(budget),
                    mean_and_spread(series),
                    mean_and_spread(ahead),
                    f"{ratio:.2f}",
                ]
            )
    table = markdown_table(
        ["field", "points", "in series NRMSE", "pipelined NRMSE", "pipelined / in series"], rows
    )
    env = environment()
    body = f"Seeds {args.seeds}, mean ±sd over seeds.\n\n{table}"
    print(table, flush=True)
    payload = {"environment": env, "runs": {f"{k[0]}|{k[1]}": v for k, v in runs.items()}}
    write_outputs(
        args.out, "pipeline_quality", "Map quality: pipelined vs in series", body, env, payload
    )
    if args.record:
        record_result(
            "pipeline-quality", "Map quality: pipelined vs in series", body, env, sys.argv
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
