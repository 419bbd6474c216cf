"""Ctrl-C while a plan runs is handled at once, whichever thread the kernel hands it to.

The CI failure this reproduces: the terminal's SIGINT reached one of the session's
helper threads while the main thread sat in bluesky's untimed wait for the plan; the
handler (a pause request) ran only after the run had ended. Here the signal is sent to
a helper thread with ``pthread_kill``, the way the kernel may deliver it.
"""

from __future__ import annotations

import signal
import threading
import time

import pytest

from gpsteer.session.interrupts import POLL_S, InterruptibleDuringTask

#: How long the plan "runs" if nobody handles the signal: the handler must come far sooner.
RUN_S = 10.0


def _signal_a_helper_thread_during(block) -> tuple[float | None, float]:
    """Run ``block(event)`` in the main thread; a helper thread SIGINTs itself, then waits
    for the handler (at most RUN_S) before it ends the "plan". Returns (handler delay,
    time the plan ended), both from the signal."""
    handled = threading.Event()
    handled_at: list[float] = []

    def handler(signum, frame) -> None:
        handled_at.append(time.monotonic())
        handled.set()

    plan_done = threading.Event()
    sent_at: list[float] = []

    def helper() -> None:
        time.sleep(0.2)  # the main thread is in block() by now
        sent_at.append(time.monotonic())
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)
        handled.wait(RUN_S)
        plan_done.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        thread = threading.Thread(target=helper)
        thread.start()
        block(plan_done)
        ended = time.monotonic()
        thread.join(RUN_S)
    finally:
        signal.signal(signal.SIGINT, previous)
    delay = handled_at[0] - sent_at[0] if handled_at else None
    return delay, ended - sent_at[0]


def test_a_sigint_on_a_helper_thread_is_handled_while_the_plan_runs() -> None:
    delay, plan_ended = _signal_a_helper_thread_during(InterruptibleDuringTask().block)
    assert delay is not None, "the SIGINT handler never ran"
    # Handled while the plan still ran, within a few polling slices (not at its end).
    assert delay < plan_ended
    assert delay < RUN_S / 2


def test_an_unset_event_keeps_the_main_thread_waiting() -> None:
    event = threading.Event()
    timer = threading.Timer(3 * POLL_S, event.set)
    timer.start()
    InterruptibleDuringTask().block(event)
    assert event.is_set()
    timer.join()


@pytest.mark.parametrize("backend", ["qtagg", "ipympl", "nbAgg"])
def test_backends_whose_wait_wakes_keep_blueskys_wait(monkeypatch, backend: str) -> None:
    import matplotlib
    from bluesky.utils import DefaultDuringTask

    calls = []
    task = InterruptibleDuringTask()  # made first: bluesky sets Qt up when it is made
    monkeypatch.setattr(matplotlib, "get_backend", lambda: backend)
    monkeypatch.setattr(DefaultDuringTask, "block", lambda self, event: calls.append(event))
    event = threading.Event()
    task.block(event)
    assert calls == [event]
