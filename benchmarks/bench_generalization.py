"""Generalization: mapping efficiency on held-out fields drawn from seeds, per family.

The fields of :mod:`benchmarks.fields` are in the repository; these are not: each
family of :mod:`benchmarks.heldout` (Voronoi grains, flakes with bubbles, a front of
finite width, a disc, two slopes, a dot lattice, a smooth texture, tiny features)
gives a new instance for every seed, and the seed also draws the measurement noise.
Per instance, gpsteer (``Agent`` defaults, or ``--agent KEY=VALUE``, named by
``--label``), python-adaptive's ``Learner2D``, the equal-count raster and random points
map it at each budget (NRMSE on 250 x 250 cell centres, as :mod:`bench_mapping`);
gpCAM only with ``--with-gpcam`` (slow). The table gives, per family, the mean over
instances of gpsteer's NRMSE divided by the raster's and by Learner2D's (below 1:
gpsteer better), the worst instance's ratio, and how many instances gpsteer won.

Don't tune on the instances reported: change ``--first-seed`` to draw new ones.

Run: ``python -m benchmarks.bench_generalization [--quick] [--instances 3]
[--families grains flakes] [--label NAME --agent KEY=VALUE ...] [--record]``.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from benchmarks.anchors import gpcam_version
from benchmarks.comparison import (
    Store,
    gpsteer_configuration,
    measure_all,
    parse_agent_options,
    seed_values,
)
from benchmarks.engines import gpsteer_version
from benchmarks.fields import cell_centres
from benchmarks.heldout import FAMILIES, make_field
from benchmarks.report import (
    environment,
    limit_threads,
    markdown_table,
    record_result,
    write_outputs,
)

SCORE_GRID = 250


def ratio_cells(ours: list[float], theirs: list[float]) -> tuple[str, str, str]:
    """Mean ratio, worst (largest) ratio, and wins as 'k/n', over instances."""
    pairs = [(a, b) for a, b in zip(ours, theirs, strict=True) if not (math.isnan(a + b))]
    if not pairs:
        return "failed", "-", "-"
    ratios = [a / b for a, b in pairs]
    wins = sum(a <= b for a, b in pairs)
    return f"{np.mean(ratios):.2f}", f"{max(ratios):.2f}", f"{wins}/{len(pairs)}"


def family_table(store: Store, families, budgets, seeds, label: str) -> str:
    header = ["family", "points", f"{label} NRMSE"]
    header += ["/ raster (mean)", "worst", "wins", "/ Learner2D (mean)", "worst", "wins"]
    rows = []
    for family in families:
        for b in budgets:
            ours = seed_values(store, family, label, seeds, b)
            raster = seed_values(store, family, "raster", seeds, b)
            learner = seed_values(store, family, "Learner2D", seeds, b)
            mean = f"{np.mean(ours):.4f}" if not any(map(math.isnan, ours)) else "failed"
            rows.append(
                [family, str(b), mean, *ratio_cells(ours, raster), *ratio_cells(ours, learner)]
            )
    return markdown_table(header, rows)


def overall(store: Store, families, budgets, seeds, label: str) -> str:
    """One line per budget: geometric-mean ratios over every instance of every family."""
    lines = []
    for b in budgets:
        parts = []
        for other in ("raster", "Learner2D"):
            ratios = [
                a / c
                for f in families
                for a, c in zip(
                    seed_values(store, f, label, seeds, b),
                    seed_values(store, f, other, seeds, b),
                    strict=True,
                )
                if not math.isnan(a + c)
            ]
            if ratios:
                geo = float(np.exp(np.mean(np.log(ratios))))
                wins = sum(r <= 1.0 for r in ratios)
                parts.append(f"/ {other} {geo:.2f} (wins {wins}/{len(ratios)})")
        lines.append(f"- {b} points: " + ", ".join(parts))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--budgets", nargs="+", type=int, default=[100, 200, 400])
    parser.add_argument("--instances", type=int, default=3, help="instances (seeds) per family")
    parser.add_argument("--first-seed", type=int, default=0, help="instances are seeds k, k+1...")
    parser.add_argument("--label", default="gpsteer", help="column name of this gpsteer variant")
    parser.add_argument("--agent", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--with-gpcam", action="store_true", help="also gpCAM 8.6.1 (slow)")
    parser.add_argument("--quick", action="store_true", help="1 instance, budgets 50 100")
    parser.add_argument("--fresh", action="store_true", help="forget stored results first")
    parser.add_argument(
        "--remeasure", action="store_true", help="forget this --label's results (not the others)"
    )
    parser.add_argument("--record", action="store_true", help="also write benchmarks/results/")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("bench-output"))
    args = parser.parse_args(argv)
    if args.quick:
        args.instances, args.budgets = 1, [50, 100]
    if args.threads:
        limit_threads(args.threads)
    options = parse_agent_options(args.agent)
    budgets = sorted(set(args.budgets))
    seeds = list(range(args.first_seed, args.first_seed + args.instances))
    stem = "generalization_quick" if args.quick else "generalization"
    store_path = args.out / f"{stem}_store.json"
    if args.fresh and store_path.exists():
        store_path.unlink()
    store = Store(store_path)
    if args.remeasure:
        store.forget(args.label)
    store.check_label(args.label, options, gpsteer_configuration(options))
    baselines = ["Learner2D", "raster", "random"] + (["gpCAM"] if args.with_gpcam else [])
    measure_all(
        store,
        args.families,
        seeds,
        budgets,
        cell_centres(SCORE_GRID),
        args.label,
        options,
        baselines,
        field_for_seed=make_field,
    )
    text = (
        family_table(store, args.families, budgets, seeds, args.label)
        + f"\nInstances (seeds) {seeds} of each family; NRMSE on {SCORE_GRID} x {SCORE_GRID} "
        f"cell centres; ratios are '{args.label}' NRMSE / the other method's on the same "
        "instance and noise (below 1: gpsteer better); 'wins': instances where it is no worse. "
        f"gpsteer: {store.describe_variants()}.\n\nAll families (geometric mean of "
        "the ratios):\n" + overall(store, args.families, budgets, seeds, args.label) + "\n"
    )
    env = environment(gpsteer=gpsteer_version(), gpcam=gpcam_version())
    title = "Generalization: held-out fields per family"
    print(f"{title}\n{env['summary']}\n{text}")
    write_outputs(args.out, stem, title, text, env, {"env": env, "store": str(store_path)})
    if args.record:
        record_result(stem, title, text, env, sys.argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
