"""LoopMonitor sees a blocked RunEngine loop and does not see a free one.

The thresholds are far apart on purpose: a plan that sleeps through the
RunEngine (``bps.sleep``) against one that calls ``time.sleep(1.0)`` inside the
generator differ by a second, not by a speed margin.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import bluesky.plan_stubs as bps
import pytest
from bluesky import RunEngine

from gpsteer.callbacks import LoopLatency, LoopMonitor
from gpsteer.errors import InputError

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def RE() -> Iterator[RunEngine]:
    engine = RunEngine(context_managers=[])
    yield engine
    engine.loop.call_soon_threadsafe(engine.loop.stop)


def _sync_with_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Return once the loop has run every callback scheduled before this call."""

    async def noop() -> None:
        return None

    asyncio.run_coroutine_threadsafe(noop(), loop).result(timeout=10)


def test_a_plan_that_sleeps_through_the_runengine_is_sampled_throughout(RE) -> None:
    """The monitor ticks while a plan sleeps through the RunEngine. (How small the
    delays are is a measurement: benchmarks/bench_plan_overhead.py.)"""

    def plan():
        for _ in range(5):
            yield from bps.sleep(0.1)

    with LoopMonitor(RE, interval=0.005) as monitor:
        RE(plan())
    stats = monitor.stats()
    assert stats.samples >= 10
    assert stats.p99 <= stats.max


def test_a_plan_that_blocks_the_loop_shows_the_block(RE) -> None:
    def plan():
        yield from bps.null()
        time.sleep(1.0)  # synchronous work in the generator: the loop cannot run
        yield from bps.null()

    with LoopMonitor(RE, interval=0.005) as monitor:
        RE(plan())
    assert monitor.max >= 0.5
    # One block is one late tick, not a run of them.
    assert (monitor.samples >= 0.5).sum() == 1


def test_stop_ends_the_ticks_and_start_resumes_them(RE) -> None:
    monitor = LoopMonitor(RE, interval=0.005).start()
    assert monitor.running
    RE(bps.sleep(0.05))
    summary = monitor.stop()
    _sync_with_loop(RE.loop)
    count = monitor.stats().samples
    assert isinstance(summary, LoopLatency)
    assert count >= summary.samples >= 1
    RE(bps.sleep(0.05))  # the loop runs; a stopped monitor must not record
    _sync_with_loop(RE.loop)
    assert monitor.stats().samples == count
    monitor.reset()
    assert monitor.stats() == LoopLatency(samples=0, max=0.0, p99=0.0, mean=0.0)
    monitor.start()
    RE(bps.sleep(0.05))
    assert monitor.stop().samples >= 1


def test_watches_a_plain_asyncio_loop_in_a_thread() -> None:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        with LoopMonitor(loop, interval=0.005) as monitor:
            loop.call_soon_threadsafe(time.sleep, 0.6)  # block the loop
            asyncio.run_coroutine_threadsafe(asyncio.sleep(0.05), loop).result(timeout=10)
        assert monitor.max >= 0.3
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def test_refuses_a_loop_that_does_not_run() -> None:
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(InputError, match="did not run a callback"):
            LoopMonitor(loop).start(timeout=0.1)
    finally:
        loop.close()


@pytest.mark.parametrize(
    ("target", "kwargs", "match"),
    [
        (object(), {}, "asyncio event loop"),
        (None, {"interval": 0.0}, "interval"),
        (None, {"interval": float("nan")}, "interval"),
        (None, {"max_samples": 0}, "max_samples"),
    ],
)
def test_rejects_bad_arguments(RE, target, kwargs, match) -> None:
    with pytest.raises(InputError, match=match):
        LoopMonitor(RE if target is None else target, **kwargs)
