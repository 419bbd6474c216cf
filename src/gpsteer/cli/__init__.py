"""The ``gpsteer`` console command.

``gpsteer sim saxs|arpes|ir [IOC options]`` serves a simulated end station on
127.0.0.1 (options as for ``python -m gpsteer.sim_devices.saxs_ioc --help``);
``gpsteer runs`` lists the runs in the catalog and ``gpsteer replay RUN --out map.png``
rebuilds a run's model and writes its map; ``gpsteer watch [RUN]`` follows a run's
decisions as they are recorded.

Subcommands register themselves through :data:`SUBCOMMANDS`: a function that
receives the ``add_subparsers()`` object, adds its parser and sets ``handler``
(``handler(args) -> int``) with ``set_defaults``. To add one, write such a
function and append it to :data:`SUBCOMMANDS`.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable, Sequence

from gpsteer.cli import runs, watch
from gpsteer.devices.stations import STATIONS

__all__ = ["SUBCOMMANDS", "build_parser", "main"]


def _add_sim(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sim",
        help="serve a simulated end station (caproto IOC) on 127.0.0.1",
        description=(
            "Serve a simulated SAXS, ARPES or IR end station with a hidden sample. "
            "Options after the kind go to the IOC: --prefix, --port, --seed, "
            "--velocity, --list-pvs, ... (gpsteer sim saxs --help lists them)."
        ),
    )
    parser.add_argument("kind", choices=sorted(STATIONS), help="end station to simulate")
    parser.add_argument("ioc_args", nargs=argparse.REMAINDER, help="options for the IOC")
    parser.set_defaults(handler=_run_sim)


def _run_sim(args: argparse.Namespace) -> int:
    from gpsteer.sim_devices.launcher import IOC_MODULES

    module = importlib.import_module(IOC_MODULES[args.kind])
    module.main(argv=list(args.ioc_args), prog=f"gpsteer sim {args.kind}")
    return 0


#: Functions that add one subcommand each (see the module docstring).
SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_sim,
    runs.add_parser,  # `gpsteer runs` and `gpsteer replay RUN --out map.png`
    watch.add_parser,  # `gpsteer watch [RUN]`
]


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="gpsteer", description="Gaussian-process steering of beamline experiments."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gpsteer`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    return int(handler(args) or 0)
