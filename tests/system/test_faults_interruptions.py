"""Interruptions and bad readings during ``autonomous_plan``: nothing measured is lost.

A real RunEngine, ophyd.sim motors and a synthetic detector (the faults here are the
RunEngine's and the data's, not a device's: see ``test_faults_devices.py`` for IOCs).

Already covered in ``test_autonomous_plan.py`` and not repeated here: a pause while
the agent decides and a pause after a reading, each resumed; an abort while paused,
with a user agent, inline and with a Dask job in flight. Added here: a pause at other
points of the loop (a move, a trigger, a save), ``RE.stop()``, ``RE.halt()``, a real
Ctrl-C (SIGINT through bluesky's handler) resumed or aborted, a target reduction
that raises, NaN/inf readings, and a catalog that broke before the plan started.

Whatever the interruption, the same invariants are checked (:func:`check_nothing_lost`):
every stored ``primary`` event was told to the agent exactly once, in order; no
point was measured twice (a point re-taken after a pause has the same ``seq_num``);
no training job and no decision thread outlives the run.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bluesky import RunEngine
from bluesky.utils import RunEngineInterrupted
from ophyd.sim import SynSignal, motor1, motor2

from gpsteer import Agent
from gpsteer.acquisition import OptimizerSettings
from gpsteer.agent import TrainingSchedule
from gpsteer.catalog import open_catalog, read_decisions
from gpsteer.errors import CatalogError, InputError
from gpsteer.plans import autonomous_plan

pytestmark = pytest.mark.system

BOUNDS = [(-2.0, 2.0), (-1.5, 1.5)]
SPACE = {motor1: BOUNDS[0], motor2: BOUNDS[1]}
DEADLINE = 60.0  # seconds; only a hang reaches it


def field(x: float, y: float) -> float:
    return float(np.exp(-((x - 0.7) ** 2 + (y - 0.3) ** 2) / 0.5) + 0.1 * x)


det = SynSignal(func=lambda: field(motor1.position, motor2.position), name="det")


def _patchy(x: float, y: float) -> float:
    """NaN right of x = 1.2 (a beam dump), +inf left of x = -1.2 (a detector glitch)."""
    if x > 1.2:
        return math.nan
    if x < -1.2:
        return math.inf
    return field(x, y)


patchy = SynSignal(func=lambda: _patchy(motor1.position, motor2.position), name="patchy")


class CountingAgent(Agent):
    """Counts its asks: a decision repeated after an interruption would show."""

    ask_calls = 0

    def ask(self, n: int = 1, **kwargs: Any) -> Any:
        self.ask_calls += 1
        return super().ask(n, **kwargs)


def fast_agent(**kwargs: Any) -> CountingAgent:
    options: dict[str, Any] = {
        "seed": 0,
        "optimizer": OptimizerSettings(n_candidates=64, n_starts=1, max_iter=10),
        "train_schedule": TrainingSchedule(
            first=8, factor=1.6, n_starts=1, n_starts_warm=1, max_iter=25
        ),
    }
    options.update(kwargs)
    return CountingAgent(bounds=BOUNDS, **options)


@pytest.fixture(scope="module")
def RE() -> Iterator[RunEngine]:
    engine = RunEngine(context_managers=[])
    yield engine
    engine.loop.call_soon_threadsafe(engine.loop.stop)


class Collector:
    """The documents a RunEngine emits while subscribed."""

    def __init__(self, RE: RunEngine) -> None:
        self.RE, self.docs = RE, []

    def __enter__(self) -> list[tuple[str, dict[str, Any]]]:
        self.token = self.RE.subscribe(lambda name, doc: self.docs.append((name, doc)))
        return self.docs

    def __exit__(self, *exc: object) -> None:
        self.RE.unsubscribe(self.token)


def primary_events(docs: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    primary = {
        doc["uid"] for name, doc in docs if name == "descriptor" and doc["name"] == "primary"
    }
    return [doc for name, doc in docs if name == "event" and doc["descriptor"] in primary]


def stop_doc(docs: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    return next(doc for name, doc in docs if name == "stop")


def wait_until(condition: Callable[[], bool], what: str) -> None:
    end = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def decision_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("gpsteer-decide")]


def check_nothing_lost(docs: list[tuple[str, dict[str, Any]]], agent: Agent) -> int:
    """The invariants of any interrupted or completed run; returns the points measured."""
    first: dict[int, dict[str, Any]] = {}
    for event in primary_events(docs):
        first.setdefault(event["seq_num"], event)  # a re-take keeps its seq_num
    n = len(first)
    assert sorted(first) == list(range(1, n + 1))  # no gap: nothing measured went missing
    assert agent.n == n  # every stored point was told, and told once
    X = np.array([[first[s]["data"]["motor1"], first[s]["data"]["motor2"]] for s in sorted(first)])
    np.testing.assert_array_equal(agent.X, X.reshape(-1, 2))
    assert len({tuple(x) for x in agent.X}) == n  # no point measured twice
    chosen = [r for r in read_decisions(docs) if r.action == "measure"]
    assert n <= len(chosen) <= n + 1  # at most the point being approached when it stopped
    assert agent.training_future is None and not agent.training_status().running
    wait_until(lambda: not decision_threads(), "the decision thread to end")
    return n


def request_pause_soon(RE: RunEngine) -> None:
    """Ask for a pause from another thread (request_pause blocks, never call it on the loop)."""
    threading.Thread(target=RE.request_pause, name="test-pause").start()


def pause_at(RE: RunEngine, command: str, nth: int, obj: Any = None) -> Callable[[Any], None]:
    """A msg_hook that requests a pause at the nth ``command`` (to ``obj``, if given)."""
    seen = {"n": 0}

    def hook(msg: Any) -> None:
        if msg.command == command and (obj is None or msg.obj is obj):
            seen["n"] += 1
            if seen["n"] == nth:
                request_pause_soon(RE)

    return hook


def plan(agent: Agent, max_points: int = 14, **kwargs: Any) -> Any:
    options: dict[str, Any] = {"target": "det", "progress": False, "final_training": False}
    options.update(kwargs)
    return autonomous_plan([det], SPACE, agent=agent, max_points=max_points, **options)


# -- a pause anywhere in the loop, then resume ---------------------------------------


@pytest.mark.parametrize(
    ("command", "nth"),
    [("set", 19), ("trigger", 10), ("save", 20)],  # a move, a trigger, a saved event
    ids=["moving", "triggering", "saving"],
)
def test_a_pause_anywhere_then_resume_loses_nothing(RE: RunEngine, command: str, nth: int) -> None:
    agent = fast_agent()
    RE.msg_hook = pause_at(RE, command, nth, det if command == "trigger" else None)
    try:
        with Collector(RE) as docs:
            with pytest.raises(RunEngineInterrupted):
                RE(plan(agent))
            assert RE.state == "paused"
            RE.msg_hook = None
            RE.resume()
    finally:
        RE.msg_hook = None
    assert stop_doc(docs)["exit_status"] == "success"
    assert check_nothing_lost(docs, agent) == 14
    assert agent.ask_calls == 1 + (14 - 8)  # the first design, then one per point


# -- stop, halt, Ctrl-C --------------------------------------------------------------


def test_stop_while_moving_keeps_every_stored_point(RE: RunEngine, tmp_path: Path) -> None:
    agent = fast_agent()
    with open_catalog(tmp_path / "catalog") as catalog:
        catalog.subscribe(RE)
        # moving to the 5th point of the first design: the agent was told nothing yet
        RE.msg_hook = pause_at(RE, "set", 9)
        try:
            with pytest.raises(RunEngineInterrupted):
                RE(plan(agent, max_points=30))
            RE.msg_hook = None
            RE.stop()
        finally:
            RE.msg_hook = None
        run = catalog[-1]
        docs = list(run.documents())
    stop = run.metadata["stop"]
    assert stop["exit_status"] == "success"  # RE.stop() ends a run as a success
    assert 4 <= stop["num_events"]["primary"] < 8
    # the points measured were told to the agent although the plan never decided again
    assert check_nothing_lost(docs, agent) == stop["num_events"]["primary"]
    assert agent.ask(1).points.shape == (1, 2)  # the user's agent stays usable


def test_halt_releases_the_agent_and_its_cluster(RE: RunEngine) -> None:
    """A halt runs no cleanup plan; the default agent's Dask cluster must still close."""

    def halt_at_ten(agent: Agent, progress: Any) -> bool:
        if progress.points == 10:
            request_pause_soon(RE)
        return False

    with Collector(RE) as docs:
        with pytest.raises(RunEngineInterrupted):
            RE(
                autonomous_plan(
                    [det],
                    SPACE,
                    target="det",
                    max_points=40,
                    seed=0,
                    stop_when=halt_at_ten,
                    progress=False,
                )
            )
        RE.halt()
    assert RE.state == "idle"
    assert stop_doc(docs)["exit_status"] == "abort"
    # the pause is asked for during the move to the 10th point (the decision for the
    # 11th runs then): its reading is stored or not, as the two race
    assert len(primary_events(docs)) in (9, 10)
    assert multiprocessing.active_children() == []  # the embedded LocalCluster is gone
    wait_until(lambda: not decision_threads(), "the decision thread to end")


def test_halt_tells_a_user_agent_what_was_measured(RE: RunEngine) -> None:
    agent = fast_agent()
    RE.msg_hook = pause_at(RE, "trigger", 6, det)  # measuring the 6th point of the design
    try:
        with Collector(RE) as docs:
            with pytest.raises(RunEngineInterrupted):
                RE(plan(agent, max_points=30))
            RE.msg_hook = None
            RE.halt()
    finally:
        RE.msg_hook = None
    assert stop_doc(docs)["exit_status"] == "abort"
    assert check_nothing_lost(docs, agent) >= 5


@pytest.fixture
def sigint_RE() -> Iterator[RunEngine]:
    """A RunEngine with bluesky's Ctrl-C handler (it pauses instead of raising)."""
    engine = RunEngine()  # default context managers: SigintHandler
    yield engine
    engine.loop.call_soon_threadsafe(engine.loop.stop)


def ctrl_c_at(seq_num: int) -> Callable[[str, dict[str, Any]], None]:
    """A callback that presses Ctrl-C (SIGINT to this process) after event ``seq_num``."""

    def press(name: str, doc: dict[str, Any]) -> None:
        if name == "event" and doc["seq_num"] == seq_num and "det" in doc["data"]:
            os.kill(os.getpid(), signal.SIGINT)  # handled in the main thread, by bluesky

    return press


@pytest.mark.parametrize("then", ["resume", "abort"])
def test_ctrl_c_pauses_then_resume_or_abort_loses_nothing(sigint_RE: RunEngine, then: str) -> None:
    RE = sigint_RE
    agent = fast_agent()
    token: int | None = RE.subscribe(ctrl_c_at(11))
    try:
        with Collector(RE) as docs:
            with pytest.raises(RunEngineInterrupted):
                RE(plan(agent, max_points=20))
            RE.unsubscribe(token)  # a re-taken point 11 must not press it again
            token = None
            getattr(RE, then)()
    finally:
        if token is not None:
            RE.unsubscribe(token)
    n = check_nothing_lost(docs, agent)
    if then == "resume":
        assert stop_doc(docs)["exit_status"] == "success" and n == 20
        assert agent.ask_calls == 1 + (20 - 8)
    else:
        assert stop_doc(docs)["exit_status"] == "abort" and 11 <= n < 20


# -- bad data ------------------------------------------------------------------------


def exploding_reduction(readings: dict[str, Any]) -> float:
    """A reduction with a bug: it fails right of x = 1."""
    if readings["motor1"] > 1.0:
        raise KeyError("calibration")
    return float(readings["det"])


def test_a_failing_reduction_names_the_event_and_the_run_closes(RE: RunEngine) -> None:
    agent = fast_agent()
    points = [[0.0, 0.0], [0.5, 0.5], [1.5, 0.0], [-1.0, 1.0]]
    with Collector(RE) as docs:
        with pytest.raises(InputError, match="event seq_num 3") as raised:
            RE(plan(agent, max_points=6, target=exploding_reduction, initial_points=points))
    assert isinstance(raised.value.__cause__, KeyError)
    assert "exploding_reduction" in str(raised.value)
    stop = stop_doc(docs)
    assert stop["exit_status"] == "fail" and "seq_num 3" in stop["reason"]
    assert RE.state == "idle"
    assert len(primary_events(docs)) == 3  # the event it failed on is stored too
    assert agent.n == 2  # the two good readings were told
    assert agent.training_future is None
    wait_until(lambda: not decision_threads(), "the decision thread to end")
    RE(plan(fast_agent(), max_points=2, initial_points=2))  # the RunEngine is fine


def test_nan_and_inf_readings_are_recorded_rejections(RE: RunEngine) -> None:
    agent = fast_agent()
    points = [[1.5, 0.0], [-1.5, 0.5], [0.0, 0.0], [0.5, -0.5], [-0.5, 1.0], [1.0, 1.0]]
    with Collector(RE) as docs:
        RE(
            autonomous_plan(
                [patchy],
                SPACE,
                target="patchy",
                agent=agent,
                max_points=12,
                initial_points=points,
                progress=False,
                final_training=False,
            )
        )
    assert stop_doc(docs)["exit_status"] == "success"  # the plan went on
    events = primary_events(docs)
    assert len(events) == 12
    bad = {
        e["seq_num"]: e["data"]["patchy"] for e in events if not np.isfinite(e["data"]["patchy"])
    }
    assert {1, 2} <= set(bad)  # the two explicit points in the bad regions
    rejects = [r for r in read_decisions(docs) if r.action == "reject"]
    assert len(rejects) == len(bad)
    for record, (seq_num, value) in zip(rejects, sorted(bad.items()), strict=True):
        assert f"seq_num {seq_num} not told" in record.message
        assert f"the target value is {value}" in record.message
    # each rejection is recorded right after the measurement it refers to
    order = [r.action for r in read_decisions(docs)]
    assert order[:4] == ["measure", "reject", "measure", "reject"]
    assert agent.n == 12 - len(bad) and np.isfinite(agent.y).all()
    assert f"{len(bad)} rejected" in read_decisions(docs)[-1].message


# -- the catalog ---------------------------------------------------------------------


def test_a_catalog_that_broke_before_the_plan_fails_it_before_anything_moves(
    tmp_path: Path,
) -> None:
    engine = RunEngine(context_managers=[])
    directory = tmp_path / "catalog"
    catalog = open_catalog(directory)
    catalog.subscribe(engine)
    shutil.rmtree(directory)  # the disk was unmounted, the directory removed...
    messages: list[str] = []
    engine.msg_hook = lambda msg: messages.append(msg.command)
    before = (motor1.position, motor2.position)
    try:
        with pytest.raises(CatalogError, match="storing documents in the catalog failed"):
            engine(plan(fast_agent(), max_points=3))
    finally:
        engine.loop.call_soon_threadsafe(engine.loop.stop)
        catalog.close()  # the failure was reported once, by the plan
    assert "set" not in messages and "trigger" not in messages
    assert (motor1.position, motor2.position) == before
