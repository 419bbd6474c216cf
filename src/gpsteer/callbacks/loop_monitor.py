"""Measure how late the RunEngine's event loop runs its callbacks.

Everything the RunEngine does between two plan messages — serving a pause
request, tripping a suspender, emitting documents — runs on one asyncio loop.
Anything synchronous on that loop (model fitting inside a plan generator, a
slow callback) delays all of it. :class:`LoopMonitor` makes that delay visible:
it schedules a tick on the loop every few milliseconds and records how late each
tick ran. A healthy loop shows lateness of a few milliseconds; a loop blocked by
one second of work shows one tick about one second late.

Used by tests ("the loop is never blocked by training") and by benchmarks.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections import deque
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import numpy as np

from gpsteer.errors import InputError

__all__ = ["LoopLatency", "LoopMonitor"]


@dataclass(frozen=True)
class LoopLatency:
    """A summary of tick lateness, in seconds.

    Attributes
    ----------
    samples : int
        Number of ticks recorded.
    max : float
        Largest lateness (0.0 when there are no samples).
    p99 : float
        99th percentile of lateness (0.0 when there are no samples).
    mean : float
        Mean lateness (0.0 when there are no samples).
    """

    samples: int
    max: float
    p99: float
    mean: float


class LoopMonitor:
    """Record the lateness of a repeating timer on an asyncio loop.

    Parameters
    ----------
    loop : asyncio.AbstractEventLoop or RunEngine
        The loop to watch, or any object with a ``loop`` attribute (a
        ``bluesky.RunEngine``, whose loop runs in a background thread).
    interval : float
        Seconds between ticks; 5–10 ms resolves blocks of tens of milliseconds
        while costing the loop almost nothing.
    max_samples : int
        Keep at most this many of the newest samples (memory bound for long runs).

    Notes
    -----
    The lateness of a tick is ``(time it ran) - (time it was due)``. Each tick
    is due ``interval`` after the previous tick *ran*, so one block of length
    ``B`` shows as one sample of about ``B``, not as many.

    Examples
    --------
    >>> from bluesky import RunEngine
    >>> import bluesky.plan_stubs as bps
    >>> RE = RunEngine()  # doctest: +SKIP
    >>> with LoopMonitor(RE) as monitor:  # doctest: +SKIP
    ...     RE(bps.sleep(0.1))
    >>> monitor.max < 0.05  # doctest: +SKIP
    True
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop | Any,
        *,
        interval: float = 0.005,
        max_samples: int = 1_000_000,
    ) -> None:
        if not isinstance(loop, asyncio.AbstractEventLoop):
            loop = getattr(loop, "loop", None)
        if not isinstance(loop, asyncio.AbstractEventLoop):
            raise InputError(
                "LoopMonitor needs an asyncio event loop or an object with a .loop "
                "attribute such as a bluesky RunEngine"
            )
        if not (math.isfinite(interval) and interval > 0):
            raise InputError(f"interval must be a positive number of seconds, got {interval!r}")
        if max_samples < 1:
            raise InputError(f"max_samples must be at least 1, got {max_samples!r}")
        self._loop = loop
        self._interval = float(interval)
        self._lock = threading.Lock()
        self._samples: deque[float] = deque(maxlen=int(max_samples))
        self._running = False
        self._started = threading.Event()
        self._handle: asyncio.TimerHandle | None = None
        self._due = 0.0

    # -- control ---------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether ticks are being scheduled."""
        return self._running

    def start(self, *, timeout: float = 5.0) -> LoopMonitor:
        """Start ticking; return once the first tick is scheduled on the loop.

        Safe to call from any thread. Raises :class:`InputError` if the loop does
        not run the first callback within ``timeout`` seconds (it is not running,
        or it is blocked).
        """
        if self._running:
            return self
        self._running = True
        self._started.clear()
        self._loop.call_soon_threadsafe(self._first_tick)
        # Waiting from the loop's own thread would deadlock: the tick cannot run.
        if not self._in_loop_thread():
            if not self._started.wait(timeout):
                self._running = False
                raise InputError(
                    f"the event loop did not run a callback within {timeout} s; "
                    "start the monitor on a running loop (e.g. a RunEngine's)"
                )
        return self

    def stop(self) -> LoopLatency:
        """Stop ticking and return the summary so far. Safe from any thread."""
        self._running = False
        handle = self._handle
        if handle is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(handle.cancel)
        return self.stats()

    def reset(self) -> None:
        """Forget the samples recorded so far (e.g. after a warm-up)."""
        with self._lock:
            self._samples.clear()

    def __enter__(self) -> LoopMonitor:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- results ---------------------------------------------------------------

    @property
    def samples(self) -> np.ndarray:
        """A copy of the recorded lateness values, in seconds, oldest first."""
        with self._lock:
            return np.fromiter(self._samples, dtype=np.float64, count=len(self._samples))

    @property
    def max(self) -> float:
        """Largest lateness recorded, in seconds (0.0 before any tick)."""
        return self.stats().max

    @property
    def p99(self) -> float:
        """99th percentile of lateness, in seconds (0.0 before any tick)."""
        return self.stats().p99

    def stats(self) -> LoopLatency:
        """Summarise the samples recorded so far."""
        values = self.samples
        if values.size == 0:
            return LoopLatency(samples=0, max=0.0, p99=0.0, mean=0.0)
        return LoopLatency(
            samples=int(values.size),
            max=float(values.max()),
            p99=float(np.percentile(values, 99.0)),
            mean=float(values.mean()),
        )

    # -- on the loop -----------------------------------------------------------

    def _in_loop_thread(self) -> bool:
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    def _first_tick(self) -> None:
        self._started.set()
        if not self._running:
            return
        self._due = self._loop.time() + self._interval
        self._handle = self._loop.call_at(self._due, self._tick)

    def _tick(self) -> None:
        now = self._loop.time()
        with self._lock:
            self._samples.append(max(0.0, now - self._due))
        if not self._running:
            return
        self._due = now + self._interval
        self._handle = self._loop.call_at(self._due, self._tick)
