"""Noticing a Dask cluster that cannot run jobs: it has no workers, and none come back.

A client stays ``running`` while its scheduler is up, even with no worker at all; jobs
then wait on the scheduler for ever. That happens when a worker dies and nothing
restarts it: a worker started apart from its nanny (``dask worker --no-nanny``) and
killed, a worker that closed on a terminal's Ctrl-C (its nanny then does not restart
it), or an embedded ``LocalCluster`` that gave up on a worker that crashed twice.

:class:`WorkerWatch` measures how long a cluster has had no workers while jobs waited,
from the client's cached view of the scheduler (refreshed by the client every 2 s;
reading it sends nothing, so it is safe to call on every poll).
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ["WorkerWatch", "local_cluster_of", "worker_count"]


def worker_count(client: Any) -> int | None:
    """Workers the client's scheduler knows, as of the client's last refresh; None if unknown.

    Reads ``Client._scheduler_identity``, which the client refreshes on its own every
    ``distributed.client.scheduler-info-interval`` (2 s); ``Client.scheduler_info()``
    would ask the scheduler, a round trip that can block for the connect timeout.
    """
    identity = getattr(client, "_scheduler_identity", None)
    if not isinstance(identity, dict) or "n_workers" not in identity:
        return None
    try:
        return int(identity["n_workers"])
    except (TypeError, ValueError):
        return None


def local_cluster_of(client: Any) -> Any | None:
    """The in-process ``LocalCluster`` behind ``client`` (``Client(cluster)``), or None.

    Only such a cluster can be given its workers back from here (a ``SpecCluster``
    knows the workers it is meant to have); a scheduler started apart cannot.
    """
    cluster = getattr(client, "cluster", None)
    if cluster is None or not hasattr(cluster, "worker_spec"):
        return None
    return cluster


class WorkerWatch:
    """How long a cluster has had no workers while jobs waited for one.

    Parameters
    ----------
    timeout
        Seconds without workers (jobs waiting) before :meth:`expired` says so. A worker
        that a nanny restarts registers again within a few seconds; a worker that is
        gone for good never does.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = float(timeout)
        self._since: float | None = None

    def update(self, n_workers: int | None, jobs_waiting: bool) -> None:
        """Record what the cluster looks like now.

        The spell starts when a job waits and there is no worker, and ends only when a
        worker is seen: once expired, later jobs need not wait the timeout again.
        """
        if n_workers is None or n_workers > 0:
            self._since = None
        elif jobs_waiting and self._since is None:
            self._since = time.monotonic()

    def seconds(self) -> float:
        """How long the cluster has been seen with no workers while jobs waited (0 if not)."""
        return 0.0 if self._since is None else time.monotonic() - self._since

    def expired(self) -> bool:
        """Whether that has lasted longer than :attr:`timeout`."""
        return self._since is not None and self.seconds() >= self.timeout

    def clear(self) -> None:
        """Forget the no-worker spell (workers came back, or the cluster was replaced)."""
        self._since = None
