"""Reading stored runs back: a one-line summary of each, and a run's documents in order."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from gpsteer.catalog.store import Catalog
from gpsteer.errors import CatalogError, InputError

__all__ = ["RunSummary", "list_runs", "run_documents"]


@dataclass(frozen=True)
class RunSummary:
    """One line of :func:`list_runs`.

    Attributes
    ----------
    uid : str
        The start document's uid.
    scan_id : int or None
    plan_name : str or None
    time : datetime.datetime
        Start time, timezone-aware (UTC).
    num_events : dict of str to int
        Events per stream, from the stop document (empty while a run is open).
    exit_status : str or None
        ``"success"``, ``"abort"``, ``"fail"``, or None while the run is open.
    """

    uid: str
    scan_id: int | None
    plan_name: str | None
    time: datetime
    num_events: Mapping[str, int]
    exit_status: str | None

    @property
    def total_events(self) -> int:
        """Events in all streams together."""
        return sum(self.num_events.values())

    def __str__(self) -> str:
        when = self.time.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        status = self.exit_status or "open"
        return (
            f"{self.uid[:8]}  {when}  scan {self.scan_id}  {self.plan_name}  "
            f"{self.total_events} events  {status}"
        )


def _summary(run: Any) -> RunSummary:
    start = run.metadata["start"]
    stop = run.metadata.get("stop") or {}
    return RunSummary(
        uid=start["uid"],
        scan_id=start.get("scan_id"),
        plan_name=start.get("plan_name"),
        time=datetime.fromtimestamp(start["time"], tz=timezone.utc),
        num_events=dict(stop.get("num_events") or {}),
        exit_status=stop.get("exit_status"),
    )


def list_runs(catalog: Catalog | Any, *, limit: int | None = None) -> list[RunSummary]:
    """Summarise stored runs, oldest first.

    Parameters
    ----------
    catalog : Catalog or tiled container of runs
    limit : int, optional
        Only the newest ``limit`` runs.
    """
    if isinstance(catalog, Catalog):
        catalog.flush()
        runs = catalog.runs
    else:
        runs = catalog
    if limit is not None and limit < 0:
        raise InputError(f"limit must be a non-negative integer, got {limit!r}")
    if limit is None:
        selected = list(runs.values())
    elif limit == 0:
        selected = []
    else:
        # tiled slices with a negative start only run backwards.
        selected = list(runs.values()[-1 : -limit - 1 : -1])[::-1]
    return [_summary(run) for run in selected]


def run_documents(run: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield the stored documents of ``run`` as ``(name, doc)`` pairs, in order.

    Feed them to any callback (``callback(name, doc)``) to replay the run, e.g.
    to rebuild an agent. Documents are semantically equal to those emitted, not
    identical: JSON round-trip (tuples become lists), event uids regenerated,
    descriptors carry ``dtype_numpy``.

    Raises
    ------
    CatalogError
        If the server cannot export documents (the json-seq exporter of
        bluesky-tiled-plugins is not registered there).
    """
    try:
        documents = run.documents()
        for name, doc in documents:
            yield name, dict(doc)
    except Exception as exc:
        if "406" in str(exc) or "Not Acceptable" in str(exc):
            raise CatalogError(
                "the tiled server cannot export the documents of this run (HTTP 406): "
                "register bluesky_tiled_plugins.exporters.json_seq_exporter for "
                "'BlueskyRun' / 'application/json-seq' in the server's configuration"
            ) from exc
        raise
