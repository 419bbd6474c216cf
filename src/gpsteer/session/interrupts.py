"""Ctrl-C during a run, handled at once whichever thread the kernel hands it to.

A terminal's Ctrl-C is one SIGINT to the session's process; the kernel delivers it to
one of its threads. Python runs the handler (bluesky's: the first Ctrl-C asks for a
pause at the next checkpoint) in the main thread only, the next time that thread runs
Python code. While a plan runs, bluesky's default ``during_task`` parks the main thread
in one untimed ``Event.wait()`` when no Qt backend is in use: if the signal landed on
another thread (a caproto, Dask, progress-bar or RunEngine thread), the main thread
slept on, and the Ctrl-C took effect only after the run had ended. The run never
paused (seen once in CI, in the pty test of issue 14).

:class:`InterruptibleDuringTask` waits in short slices instead, so a pending signal is
handled within :data:`POLL_S` seconds. The backends whose default wait already wakes
(Qt runs its event loop with a signal wake-up pipe; ipympl and nbagg poll to redraw)
keep bluesky's wait.
"""

from __future__ import annotations

import sys
import threading

from bluesky.utils import DefaultDuringTask

__all__ = ["POLL_S", "InterruptibleDuringTask"]

#: Longest delay, in seconds, between a Ctrl-C and its handler while a plan runs.
POLL_S = 0.1

#: Matplotlib backends for which bluesky's own wait runs an event loop or polls.
_BACKENDS_THAT_WAKE = ("qt", "ipympl", "nbagg")


def _backend_wakes() -> bool:
    if "matplotlib" not in sys.modules:  # never import matplotlib just to ask
        return False
    import matplotlib

    backend = matplotlib.get_backend().lower()
    return any(name in backend for name in _BACKENDS_THAT_WAKE)


class InterruptibleDuringTask(DefaultDuringTask):
    """bluesky's ``during_task``, waiting in slices of :data:`POLL_S` s (see the module)."""

    def block(self, blocking_event: threading.Event) -> None:
        if _backend_wakes():
            super().block(blocking_event)
            return
        while not blocking_event.wait(POLL_S):
            pass  # back in Python code: a pending signal's handler runs here
