"""Store a run's documents off the RunEngine's loop: a callback run in a worker thread."""

from __future__ import annotations

import copy
import logging
import queue
import threading
from collections.abc import Mapping
from typing import Any

from gpsteer.errors import CatalogError

__all__ = ["BackgroundWriter"]

logger = logging.getLogger(__name__)
_STOP = object()


class BackgroundWriter:
    """Pass documents to a callback in a worker thread, in order.

    Why: a ``TiledWriter`` called by the RunEngine writes on the RunEngine's
    loop, and one write takes tens to hundreds of milliseconds (each event with
    ``batch_size=1``; run start, descriptors and stop always). Queued to a
    thread, the loop only pays for a copy of the document.

    A failed write is logged at once and raised, once, as :class:`CatalogError`
    from the next document call (so the RunEngine aborts the run) or from
    :meth:`flush`/:meth:`close`. The ``start`` document is the exception to
    "the loop only pays for a copy": the call waits until it is stored, so a
    catalog that cannot store a run fails it before the plan moves anything.
    The rest of a failed run is not passed on (a partial run would only fail
    again); the next run start is.

    Parameters
    ----------
    callback : callable
        ``callback(name, doc)``, e.g. a ``TiledWriter``; only the worker calls it.
    """

    def __init__(self, callback: Any, *, thread_name: str = "gpsteer-catalog-writer") -> None:
        self.callback = callback
        self._queue: queue.Queue[Any] = queue.Queue()
        self._error: BaseException | None = None  # set by the worker, raised by callers
        self._error_lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._work, name=thread_name, daemon=True)
        self._thread.start()

    def __call__(self, name: str, doc: Mapping[str, Any]) -> None:
        self._raise_error()
        if self._closed:
            raise CatalogError("the catalog writer is closed; subscribe a new one")
        # The RunEngine owns the document; copy so later changes cannot race the worker.
        self._queue.put((name, copy.deepcopy(doc)))
        if name == "start":
            # Why wait for this one: a catalog that broke since it was opened (server
            # gone, disk full) then fails the run at open_run, before anything moves.
            self._queue.join()
            self._raise_error()

    def _work(self) -> None:
        run_failed = False  # after a failure, drop the rest of that run
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                name = item[0]
                if name == "start":
                    run_failed = False
                if run_failed:
                    continue
                try:
                    self.callback(*item)
                except Exception as exc:
                    logger.exception("storing a %r document in the catalog failed", name)
                    run_failed = True
                    with self._error_lock:
                        if self._error is None:
                            self._error = exc
            finally:
                self._queue.task_done()

    def _raise_error(self) -> None:
        with self._error_lock:
            error, self._error = self._error, None
        if error is not None:
            raise CatalogError(
                f"storing documents in the catalog failed: {error}. The run's later "
                "documents were not stored; check the catalog directory or server."
            ) from error

    def flush(self) -> None:
        """Wait until every document received so far is stored; raise a stored failure."""
        if self._thread.is_alive():
            self._queue.join()
        self._raise_error()

    def close(self) -> None:
        """Flush and stop the worker thread."""
        if self._closed:
            return
        self._closed = True
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()
        self._raise_error()
