"""``gpsteer runs`` and ``gpsteer replay``: list stored runs, rebuild one's map as a PNG.

Wire into the ``gpsteer`` command with :func:`add_parser` (it adds both
subcommands)::

    gpsteer runs --limit 5
    gpsteer replay -1 --out map.png          # the newest run
    gpsteer replay 3f2a9c1e --upto 20 --out decision20.png

The catalog is the embedded default (see :func:`~gpsteer.catalog.default_catalog_directory`)
unless ``--catalog DIR`` or ``--uri URI`` is given.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_catalog_options", "add_parser", "open_catalog_of", "run_key"]


def add_catalog_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--catalog", metavar="DIR", help="embedded catalog directory")
    where.add_argument("--uri", help="tiled server URI (with --api-key if it needs one)")
    parser.add_argument("--api-key", help="API key for --uri")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``runs`` and ``replay`` subcommands (each sets ``handler``)."""
    runs = subparsers.add_parser(
        "runs",
        help="list the runs stored in the catalog",
        description="List stored runs, oldest first: uid, time, scan id, plan, events, status.",
    )
    add_catalog_options(runs)
    runs.add_argument("--limit", type=int, default=20, help="show the newest N runs (default 20)")
    runs.add_argument(
        "--gpsteer-only", action="store_true", help="only runs of autonomous_plan / resume_plan"
    )
    runs.set_defaults(handler=_list_runs)

    replay = subparsers.add_parser(
        "replay",
        help="rebuild an autonomous run's model and write its map",
        description=(
            "Rebuild the agent of a stored autonomous run from its documents and write "
            "its map (posterior mean, std and measured points; 1-D and 2-D spaces)."
        ),
    )
    add_catalog_options(replay)
    replay.add_argument(
        "run", help="uid or uid prefix, a scan id (positive), or -1 for the newest run"
    )
    replay.add_argument("--out", default="map.png", help="image to write (default map.png)")
    replay.add_argument(
        "--upto", type=int, default=None, help="rebuild the model of this decision record"
    )
    replay.add_argument("--grid", type=int, default=60, help="grid points per axis")
    replay.set_defaults(handler=_replay)


def run_key(text: str) -> str | int:
    """A run reference from the command line: an int (scan id or negative index) or a uid."""
    try:
        return int(text)
    except ValueError:
        return text


def open_catalog_of(args: argparse.Namespace) -> Any:
    """The catalog that ``--catalog`` / ``--uri`` name (default: the embedded one)."""
    from gpsteer.catalog.store import open_catalog

    if args.uri:
        return open_catalog(uri=args.uri, api_key=args.api_key)
    return open_catalog(args.catalog)


def _list_runs(args: argparse.Namespace) -> int:
    from gpsteer.catalog.runs import list_runs

    with open_catalog_of(args) as catalog:
        summaries = list_runs(catalog, limit=args.limit)
    if args.gpsteer_only:
        summaries = [s for s in summaries if s.plan_name in ("autonomous_plan", "resume_plan")]
    for summary in summaries:
        print(summary)
    if not summaries:
        print("no runs", file=sys.stderr)
    return 0


def _replay(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from gpsteer.callbacks.live_plot import plot_map
    from gpsteer.catalog.replay import replay
    from gpsteer.errors import GpsteerError
    from gpsteer.schema import RunStart

    with open_catalog_of(args) as catalog:
        try:
            run = catalog[run_key(args.run)]
        except (KeyError, IndexError, ValueError) as exc:
            print(f"gpsteer replay: no run {args.run!r} in the catalog ({exc})", file=sys.stderr)
            return 1
        start = run.metadata["start"]
        try:
            agent = replay(run, upto=args.upto, catalog=catalog, training="inline")
        except GpsteerError as exc:
            print(f"gpsteer replay: {exc}", file=sys.stderr)
            return 1
        try:
            space = RunStart.from_start(start)
            title = f"run {start['uid'][:8]}: {agent.n} points"
            figure = plot_map(agent, space, grid=args.grid, title=title)
            out = Path(args.out)
            figure.savefig(out, dpi=100)
        except GpsteerError as exc:
            print(f"gpsteer replay: {exc}", file=sys.stderr)
            return 1
        finally:
            agent.close()
    print(f"wrote {out} ({agent.n} points, run {start['uid']})")
    return 0
