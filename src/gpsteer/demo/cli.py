"""``python -m gpsteer.demo``: the autonomous beamline demo, or the offline engine demo.

``python -m gpsteer.demo --out DIR`` (what ``make demo`` runs) maps the hidden
sample of a simulated end station with ``autonomous_plan`` (see
:mod:`gpsteer.demo.autonomous_map`); ``--offline`` runs the GP engine on its own
instead (:mod:`gpsteer.demo.offline`, no IOC, no Dask, no catalog).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from gpsteer.devices.stations import STATIONS

__all__ = ["build_parser", "main"]

DESCRIPTION = (
    "Map a hidden sample autonomously on a simulated beamline: start the end station's "
    "IOC on 127.0.0.1, a Dask cluster and the run catalog, run autonomous_plan, print a "
    "summary and write a report figure. --offline runs the GP engine demo instead."
)


def build_parser() -> argparse.ArgumentParser:
    """The demo's argument parser (the offline demo parses its own options)."""
    parser = argparse.ArgumentParser(prog="python -m gpsteer.demo", description=DESCRIPTION)
    parser.add_argument(
        "--offline",
        action="store_true",
        help="run the offline GP engine demo (its options: --offline --help)",
    )
    parser.add_argument(
        "--station",
        choices=sorted(STATIONS),
        default="saxs",
        help="end station to simulate (default saxs)",
    )
    parser.add_argument(
        "--budget", type=int, default=100, help="points to measure (default 100, at least 10)"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("demo-output"), help="output folder (default demo-output)"
    )
    parser.add_argument("--seed", type=int, default=0, help="hidden sample and agent seed")
    parser.add_argument(
        "--velocity", type=float, default=25.0, help="motor speed in mm/s (default 25)"
    )
    parser.add_argument(
        "--acquisition", default="map", help="the agent's acquisition (default map)"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m gpsteer.demo``; returns the exit status."""
    import sys

    args_list = [str(a) for a in (sys.argv[1:] if argv is None else argv)]
    if "--offline" in args_list:
        from gpsteer.demo import offline

        return offline.main([a for a in args_list if a != "--offline"])
    parser = build_parser()
    args = parser.parse_args(args_list)
    if args.budget < 10:
        parser.error(f"--budget must be at least 10 points; got {args.budget}")
    if not args.velocity > 0:
        parser.error(f"--velocity must be > 0 mm/s; got {args.velocity}")

    from bluesky.utils import RunEngineInterrupted

    from gpsteer.demo.autonomous_map import run_session

    try:
        result = run_session(
            args.station,
            budget=args.budget,
            out=args.out,
            seed=args.seed,
            velocity=args.velocity,
            acquisition=args.acquisition,
            progress=not args.no_progress,
        )
    except (KeyboardInterrupt, RunEngineInterrupted):
        print(
            "\ninterrupted: the run was aborted and closed in the catalog; the IOC, the Dask "
            "cluster and the catalog are stopped",
            file=sys.stderr,
        )
        return 130
    print(result.summary())
    return 0
