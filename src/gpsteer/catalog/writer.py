"""Store a run's documents off the RunEngine's loop: a callback run in a worker thread."""

from __future__ import annotations

import copy
import logging
import queue
import threading
import weakref
from collections.abc import Mapping
from typing import Any

from gpsteer.errors import CatalogError

__all__ = ["BackgroundWriter", "close_before_thread_shutdown"]

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

    def close(self, timeout: float | None = None) -> None:
        """Flush and stop the worker thread; wait at most ``timeout`` seconds (None: no
        limit) and say so if documents were left unstored."""
        if self._closed:
            return
        self._closed = True
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.warning(
                    "The catalog writer did not finish within %g s; about %d document(s) "
                    "were not stored.",
                    timeout,
                    self._queue.qsize(),
                )
        self._raise_error()


#: Seconds a catalog closing at interpreter exit waits for its writers.
EXIT_CLOSE_TIMEOUT_S = 60.0


def close_before_thread_shutdown(catalog: Any) -> None:
    """Close ``catalog`` (its ``close(timeout=...)``) when the interpreter begins to exit,
    before its threads are joined.

    Why not ``atexit``: Python joins threads (and closes tiled's in-process app, whose
    portal thread serves every write) *before* it runs ``atexit`` hooks. A writer still
    storing a run's last documents then waits for a portal that is gone, and exit
    hangs. ``threading._register_atexit`` hooks run first, newest first (CPython 3.9+).
    """
    register = getattr(threading, "_register_atexit", None)
    if register is None:
        return
    ref = weakref.ref(catalog)

    def close() -> None:
        open_catalog_ = ref()
        if open_catalog_ is not None:
            try:
                open_catalog_.close(timeout=EXIT_CLOSE_TIMEOUT_S)
            except Exception as exc:  # exiting anyway: say what was lost
                logger.warning("Closing the catalog at exit failed: %s", exc)

    try:
        register(close)
    except RuntimeError:  # the interpreter is already shutting down
        pass
