"""wait_for_future: a plan waits for concurrent work through the RunEngine, not on its loop.

Real RunEngine, real thread pool, real (in-process) Dask cluster. Pauses are
requested at the moment the RunEngine processes the ``wait_for`` message (seen
through ``RE.msg_hook``), and the work is released by the test, so nothing here
depends on how fast the machine is.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import bluesky.plan_stubs as bps
import pytest
from bluesky import RunEngine
from bluesky.run_engine import WaitForTimeoutError
from bluesky.utils import RunEngineInterrupted

from gpsteer.errors import InputError
from gpsteer.plan_stubs import wait_for_future

# Work functions look their gate up by name, so they pickle by reference for Dask.
_GATES: dict[str, threading.Event] = {}
_CALLS: dict[str, int] = {}


def _gated_double(x: int, gate: str) -> int:
    """Return 2 x once the test opens ``gate``; count the calls."""
    _CALLS[gate] = _CALLS.get(gate, 0) + 1
    if not _GATES[gate].wait(timeout=60):
        raise TimeoutError(f"gate {gate} was never opened")
    return 2 * x


def _fail(message: str) -> None:
    raise ValueError(message)


@pytest.fixture
def RE() -> Iterator[RunEngine]:
    engine = RunEngine(context_managers=[], call_returns_result=True)
    yield engine
    if engine.state != "idle":
        engine.abort()
    engine.loop.call_soon_threadsafe(engine.loop.stop)


@pytest.fixture
def gate(request: pytest.FixtureRequest) -> Iterator[str]:
    name = request.node.nodeid
    _GATES[name] = threading.Event()
    _CALLS.pop(name, None)
    yield name
    _GATES.pop(name).set()  # never leave a worker waiting


@pytest.fixture(scope="module")
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=2) as executor:
        yield executor


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    distributed = pytest.importorskip("distributed")
    # processes=False: an in-process cluster on the inproc transport, no sockets.
    # (processes=False with host="127.0.0.1" fails to start in distributed 2026.8.)
    with (
        distributed.LocalCluster(
            processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture(params=["threads", pytest.param("dask", marks=pytest.mark.system)])
def submit(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """``submit(fn, *args)`` on a thread pool or on a Dask cluster."""
    if request.param == "threads":
        return request.getfixturevalue("pool").submit
    return request.getfixturevalue("dask_client").submit


def _on_wait_for(RE: RunEngine, action: Callable[[], None]) -> list[int]:
    """Run ``action`` in a new thread each time RE processes a wait_for message."""
    seen: list[int] = []

    def hook(msg: Any) -> None:
        if msg.command == "wait_for":
            seen.append(1)
            threading.Thread(target=action, daemon=True).start()

    RE.msg_hook = hook
    return seen


def test_returns_the_result_of_the_work(RE, submit, gate) -> None:
    def plan():
        future = submit(_gated_double, 21, gate)
        value = yield from wait_for_future(future)
        return value

    _on_wait_for(RE, _GATES[gate].set)
    assert RE(plan()).plan_result == 42


def test_an_already_finished_future_is_read_at_once(RE, pool) -> None:
    future = pool.submit(sum, [1, 2, 3])
    future.result()

    def plan():
        return (yield from wait_for_future(future))

    assert RE(plan()).plan_result == 6


def test_the_error_of_the_work_is_raised_in_the_plan(RE, submit) -> None:
    caught: list[BaseException] = []

    def plan():
        try:
            yield from wait_for_future(submit(_fail, "no convergence"))
        except ValueError as exc:
            caught.append(exc)
            raise

    with pytest.raises(ValueError, match="no convergence"):
        RE(plan())
    assert len(caught) == 1


def test_pause_and_resume_during_the_wait_give_the_right_result(
    RE,
    submit,
    gate,
) -> None:
    """The work finishes while the RunEngine is paused; after resume the replayed
    wait_for hands the generator None, and the result still comes from the future."""

    def plan():
        yield from bps.open_run()
        future = submit(_gated_double, 5, gate)
        yield from bps.checkpoint()  # the replay starts here: no second submit
        value = yield from wait_for_future(future)
        yield from bps.close_run()
        return value

    waits = _on_wait_for(RE, RE.request_pause)
    with pytest.raises(RunEngineInterrupted):
        RE(plan())
    assert RE.state == "paused"
    RE.msg_hook = None
    _GATES[gate].set()
    result = RE.resume()
    assert result.plan_result == 10
    assert result.exit_status == "success"
    assert waits == [1]
    assert _CALLS[gate] == 1


def test_work_that_finishes_after_resume(RE, pool, gate) -> None:
    """Pause during the wait, resume while the work still runs, then finish it."""

    def plan():
        yield from bps.open_run()
        future = pool.submit(_gated_double, 7, gate)
        yield from bps.checkpoint()
        value = yield from wait_for_future(future)
        yield from bps.close_run()
        return value

    waits = _on_wait_for(RE, RE.request_pause)
    with pytest.raises(RunEngineInterrupted):
        RE(plan())
    # The replayed wait_for is seen by the hook again: open the gate then.
    waits = _on_wait_for(RE, _GATES[gate].set)
    result = RE.resume()
    assert result.plan_result == 14
    assert waits == [1]
    assert _CALLS[gate] == 1


def test_the_loop_serves_callbacks_while_waiting(RE, pool, gate) -> None:
    """While the plan waits for the work, the RunEngine's loop runs other callbacks.

    Only a callback on the loop opens the gate the work waits for: a plan that waited
    by blocking the loop would never finish (the work's gate times out instead).
    """

    def plan():
        return (yield from wait_for_future(pool.submit(_gated_double, 1, gate)))

    _on_wait_for(RE, lambda: RE.loop.call_soon_threadsafe(_GATES[gate].set))
    assert RE(plan()).plan_result == 2


def test_timeout_raises_in_the_plan(RE, pool, gate) -> None:
    def plan():
        yield from wait_for_future(pool.submit(_gated_double, 1, gate), timeout=0.05)

    with pytest.raises(WaitForTimeoutError):
        RE(plan())


def test_rejects_an_object_that_is_not_a_future() -> None:
    with pytest.raises(InputError, match="add_done_callback"):
        next(wait_for_future(42))  # type: ignore[arg-type]
