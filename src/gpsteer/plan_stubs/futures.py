"""Wait for concurrent work inside a plan without blocking the RunEngine loop.

Hyperparameter training runs on Dask (or a thread pool) while the plan keeps
moving motors. When a plan must have a result before it can go on, calling
``future.result()`` inside the generator would freeze the RunEngine's event loop:
no suspender could trip and no pause request could be served until the work
finished. :func:`wait_for_future` waits through a RunEngine message instead
(``Msg('wait_for')``), so the loop stays free.

Two facts of the RunEngine shape the implementation:

* ``bps.wait_for`` takes *factories* of awaitables, and the RunEngine may call a
  factory more than once: after a pause and resume it replays every message since
  the last checkpoint.
* After such a replay the RunEngine sends the reply of ``wait_for`` to the
  replay, not to the generator, which then sees ``None``. The result therefore
  never travels through the RunEngine: it is taken from the future itself, in
  the future's done-callback (a worker or Dask callback thread, never the
  RunEngine loop), and kept beside it until the plan reads it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Generator
from typing import Any, Generic, Protocol, TypeVar

from bluesky import plan_stubs as bps
from bluesky.utils import Msg

from gpsteer.errors import InputError

__all__ = ["FutureLike", "wait_for_future"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class FutureLike(Protocol[T_co]):
    """What :func:`wait_for_future` needs of a future.

    Both :class:`concurrent.futures.Future` and :class:`distributed.Future` have
    it: ``add_done_callback(fn)`` calls ``fn(future)`` once the work has finished
    (in some thread), and ``result()`` returns the value or raises the error.
    """

    def add_done_callback(self, fn: Any, /) -> Any: ...

    def result(self, timeout: float | None = None) -> T_co: ...


class _Outcome(Generic[T]):
    """The settled value or error of one future, and the loop futures waiting for it.

    Why a separate object: the value must survive RunEngine replays, and reading
    it must not block the loop (``distributed.Future.result()`` gathers the value
    from a worker each time it is called).
    """

    def __init__(self, future: FutureLike[T]) -> None:
        self._lock = threading.Lock()
        self._settled = False
        self._value: T | None = None
        self._error: BaseException | None = None
        self._waiters: list[asyncio.Future[None]] = []
        future.add_done_callback(self._on_done)

    def _on_done(self, future: FutureLike[T]) -> None:
        # Runs in the thread that finished the work (concurrent.futures), in
        # Dask's callback thread (distributed), or right away in the caller's
        # thread when the future was already done. Never call into a loop here
        # except through call_soon_threadsafe.
        value: T | None = None
        error: BaseException | None = None
        try:
            value = future.result()
        except BaseException as exc:  # re-raised in the plan, whatever it was
            error = exc
        with self._lock:
            self._value, self._error, self._settled = value, error, True
            waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            loop = waiter.get_loop()
            if not loop.is_closed():
                loop.call_soon_threadsafe(_release, waiter)

    def awaitable(self) -> asyncio.Future[None]:
        """Return a loop future that completes once the outcome is known.

        Called by the RunEngine (on its loop) each time it processes or
        replays the ``wait_for`` message.
        """
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        with self._lock:
            if not self._settled:
                self._waiters.append(waiter)
                return waiter
        waiter.set_result(None)
        return waiter

    def get(self) -> T:
        """Return the value, or raise the future's error."""
        with self._lock:
            if not self._settled:  # pragma: no cover - guarded by the wait_for message
                raise RuntimeError("the future has not finished; wait for it first")
            if self._error is not None:
                raise self._error
            return self._value  # type: ignore[return-value]


def _release(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():  # a pause may have cancelled it
        waiter.set_result(None)


def wait_for_future(
    future: FutureLike[T], *, timeout: float | None = None
) -> Generator[Msg, Any, T]:
    """Plan stub: wait for ``future`` without blocking the RunEngine, return its result.

    Use as ``value = yield from wait_for_future(future)`` inside a plan. While
    the work runs, the RunEngine loop keeps serving suspenders, pause requests
    and other callbacks.

    Parameters
    ----------
    future : concurrent.futures.Future or distributed.Future
        Any object with ``add_done_callback(fn)`` and ``result()``.
    timeout : float, optional
        Give up after this many seconds: the RunEngine raises
        ``bluesky.run_engine.WaitForTimeoutError`` (a ``TimeoutError``) into the
        plan. The work itself is not cancelled.

    Returns
    -------
    object
        ``future.result()``, read from the future itself, so the value is right
        also when the wait is replayed after a pause and resume.

    Raises
    ------
    Exception
        Whatever the future raised (its error is re-raised in the plan).
    InputError
        If ``future`` has no ``add_done_callback``/``result`` methods.

    Notes
    -----
    Submit the work and then ``yield from bps.checkpoint()`` before waiting, so a
    pause and resume replays the wait and does not submit the work again.

    Examples
    --------
    >>> from concurrent.futures import ThreadPoolExecutor
    >>> from bluesky import RunEngine
    >>> def plan(pool):
    ...     future = pool.submit(sum, [1, 2, 3])
    ...     total = yield from wait_for_future(future)
    ...     return total
    >>> with ThreadPoolExecutor(1) as pool:  # doctest: +SKIP
    ...     RunEngine()(plan(pool))
    """
    if not all(callable(getattr(future, name, None)) for name in ("add_done_callback", "result")):
        raise InputError(
            f"wait_for_future needs a future with add_done_callback() and result() "
            f"(concurrent.futures.Future or distributed.Future), got {type(future).__name__}"
        )
    outcome: _Outcome[T] = _Outcome(future)
    kwargs = {} if timeout is None else {"timeout": timeout}
    yield from bps.wait_for([outcome.awaitable], **kwargs)
    return outcome.get()
