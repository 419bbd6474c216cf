"""``gpsteer watch``: follow an autonomous run's decisions from another process.

One line per record of the run's ``agent`` stream as the session writes it: where the
point is, why it was chosen (``coverage``: the widest gap; ``uncertainty``), what the
model predicted there, which model decided and how long it took; then the stop
reason. It reads the catalog as any other process does (a session serves its
catalog on 127.0.0.1, see docs/reference/catalog.md), so it follows a run while it is
written and prints a stored one at once::

    gpsteer watch                 # the next run that starts
    gpsteer watch -1              # the newest run, from its first decision
    gpsteer watch 3f2a9c1e --catalog /data/catalog --interval 0.5
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import Any

from gpsteer.cli.runs import add_catalog_options, open_catalog_of, run_key

__all__ = ["add_parser", "describe"]

#: Default for ``--timeout``: a watch outlives any beamtime shift, but not forever.
DEFAULT_TIMEOUT_S = 24 * 3600.0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``watch`` subcommand (sets ``handler``)."""
    watch = subparsers.add_parser(
        "watch",
        help="follow an autonomous run's decisions as they are recorded",
        description=(
            "Print each decision of an autonomous run (position, reason, prediction, "
            "model) as the session records it, and the stop reason; works on a running "
            "and on a stored run."
        ),
    )
    add_catalog_options(watch)
    watch.add_argument(
        "run",
        nargs="?",
        default=None,
        help="uid or uid prefix, scan id, or -1 for the newest run (default: the next run "
        "that starts)",
    )
    watch.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
    watch.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        help="give up after this many seconds without the run's stop (default 24 h)",
    )
    watch.set_defaults(handler=_watch)


def describe(k: int, record: Any) -> str:
    """One line for the ``k``-th record of an ``agent`` stream."""
    if record.action == "stop":
        return f"{k:5d} stop     {record.stop_reason}"
    where = ", ".join(f"{v:.4g}" for v in record.position)
    if record.action == "reject":
        return f"{k:5d} reject   at ({where}): {record.message}"
    line = f"{k:5d} measure  at ({where})  n={record.n_points}"
    if record.n_pending:
        line += f"+{record.n_pending} pending"
    reason = record.reason if record.reason not in ("", record.acquisition) else ""
    why = record.acquisition + (f"/{reason}" if reason else "")
    line += f"  {why}"
    if math.isfinite(record.predicted_mean):
        line += f"  predicted {record.predicted_mean:.4g} ± {record.predicted_std:.2g}"
    model = record.state.get("model") if record.state else None
    line += f"  model v{record.model_version}" + (f" ({model})" if model else "")
    if math.isfinite(record.decision_time):
        line += f"  {1e3 * record.decision_time:.0f} ms"
    if record.fallback:
        line += f"  FALLBACK: {record.message}"
    return line


def _watch(args: argparse.Namespace) -> int:
    from gpsteer.catalog import read_decisions

    if args.interval <= 0 or args.timeout <= 0:
        print("gpsteer watch: --interval and --timeout must be positive", file=sys.stderr)
        return 2
    deadline = time.monotonic() + args.timeout
    try:
        with open_catalog_of(args) as catalog:
            uid = _find_run(catalog, args, deadline)
            if uid is None:
                return 1
            start = catalog[uid].metadata["start"]
            print(f"run {uid} ({start.get('plan_name', '?')}, scan {start.get('scan_id', '?')})")
            printed = 0
            while True:
                run = catalog[uid]  # fetched again: a fetched node keeps its structure
                stopped = run.metadata.get("stop") is not None  # before the records
                records = read_decisions(run)
                for k in range(printed, len(records)):
                    print(describe(k, records[k]), flush=True)
                printed = len(records)
                if stopped:
                    stop = run.metadata["stop"]
                    events = stop.get("num_events", {})
                    print(f"run {uid[:8]} ended: {stop.get('exit_status')}, events {events}")
                    return 0
                if time.monotonic() > deadline:
                    print(
                        f"gpsteer watch: run {uid[:8]} has not stopped after {args.timeout:g} s "
                        "(--timeout); it is still open",
                        file=sys.stderr,
                    )
                    return 1
                time.sleep(args.interval)
    except KeyboardInterrupt:
        return 130


def _find_run(catalog: Any, args: argparse.Namespace, deadline: float) -> str | None:
    """The uid to follow: the given run, or the next one to start (bounded wait)."""
    if args.run is not None:
        try:
            return str(catalog[run_key(args.run)].metadata["start"]["uid"])
        except (KeyError, IndexError, ValueError) as exc:
            print(f"gpsteer watch: no run {args.run!r} in the catalog ({exc})", file=sys.stderr)
            return None
    known = len(catalog)
    print(f"waiting for the next run ({known} stored)", flush=True)
    while len(catalog) <= known:
        if time.monotonic() > deadline:
            print(
                f"gpsteer watch: no run started within {args.timeout:g} s (--timeout)",
                file=sys.stderr,
            )
            return None
        time.sleep(args.interval)
    return str(catalog[-1].metadata["start"]["uid"])
