"""autonomous_plan with a real RunEngine, ophyd.sim motors, a synthetic 2-D detector and
the embedded catalog: the stored run, its agent stream, stopping, pause/resume, abort,
and the RunEngine loop staying free while the model trains.

The agents use small optimizer settings so each run takes seconds; the plan's
behaviour does not depend on them.
"""

from __future__ import annotations

import json
import multiprocessing
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bluesky.plan_stubs as bps
import numpy as np
import pytest
from bluesky import RunEngine
from bluesky.utils import RunEngineInterrupted
from ophyd.sim import SynSignal, motor1, motor2

from gpsteer import Agent
from gpsteer.acquisition import OptimizerSettings
from gpsteer.agent import TrainingSchedule
from gpsteer.callbacks import LiveAgentPlot
from gpsteer.catalog import Catalog, open_catalog, read_decisions, run_documents
from gpsteer.errors import InputError
from gpsteer.plans import autonomous_plan

pytestmark = pytest.mark.system

BOUNDS = [(-2.0, 2.0), (-1.5, 1.5)]


def field(x: float, y: float) -> float:
    """The hidden 2-D map the detector reads: two Gaussian peaks on a slope."""
    return float(
        np.exp(-((x - 0.7) ** 2 + (y - 0.3) ** 2) / 0.5)
        - 0.6 * np.exp(-((x + 0.9) ** 2 + (y + 0.6) ** 2) / 0.3)
        + 0.1 * x
    )


det2d = SynSignal(func=lambda: field(motor1.position, motor2.position), name="det2d")
SPACE = {motor1: BOUNDS[0], motor2: BOUNDS[1]}


class CountingAgent(Agent):
    """An Agent that counts its asks (to prove a pause submits no decision twice)."""

    def ask(self, n: int = 1, **kwargs: Any) -> Any:
        self.ask_calls = getattr(self, "ask_calls", 0) + 1
        return super().ask(n, **kwargs)


def fast_agent(cls: type = Agent, **kwargs: Any) -> Agent:
    options: dict[str, Any] = {
        "seed": 0,
        "optimizer": OptimizerSettings(n_candidates=64, n_starts=1, max_iter=10),
        "train_schedule": TrainingSchedule(
            first=8, factor=1.6, n_starts=1, n_starts_warm=1, max_iter=25
        ),
    }
    options.update(kwargs)
    return cls(bounds=BOUNDS, **options)


@pytest.fixture(scope="module")
def RE() -> Iterator[RunEngine]:
    engine = RunEngine(context_managers=[])
    yield engine
    engine.loop.call_soon_threadsafe(engine.loop.stop)


@pytest.fixture(scope="module")
def bare_RE() -> Iterator[RunEngine]:
    """A RunEngine that stores nothing (tests that read the documents as emitted)."""
    engine = RunEngine(context_managers=[])
    yield engine
    engine.loop.call_soon_threadsafe(engine.loop.stop)


class Collector:
    """Keep the documents of the runs a RunEngine emits while subscribed."""

    def __init__(self, RE: RunEngine) -> None:
        self.RE, self.docs = RE, []

    def __enter__(self) -> list[tuple[str, dict[str, Any]]]:
        self.token = self.RE.subscribe(lambda name, doc: self.docs.append((name, doc)))
        return self.docs

    def __exit__(self, *exc: object) -> None:
        self.RE.unsubscribe(self.token)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory, RE: RunEngine) -> Iterator[Catalog]:
    with open_catalog(tmp_path_factory.mktemp("autonomous") / "catalog") as cat:
        cat.subscribe(RE)
        yield cat


@pytest.fixture(scope="module")
def mapped(RE: RunEngine, catalog: Catalog) -> dict[str, Any]:
    """One 24-point 2-D map, stored; the agent it ran with."""
    agent = fast_agent()
    (uid,) = RE(
        autonomous_plan(
            [det2d],
            SPACE,
            target="det2d",
            agent=agent,
            max_points=24,
            progress=False,
            md={"sample": "two-peaks"},
        )
    )
    return {"uid": uid, "agent": agent, "run": catalog[uid]}


def _events(run: Any) -> dict[str, list[dict[str, Any]]]:
    """Events by stream, of a stored run or a list of documents."""
    streams: dict[str, str] = {}
    out: dict[str, list[dict[str, Any]]] = {}
    docs = run if isinstance(run, list) else run_documents(run)
    for name, doc in docs:
        if name == "descriptor":
            streams[doc["uid"]] = doc["name"]
        elif name == "event":
            out.setdefault(streams[doc["descriptor"]], []).append(doc)
    return out


# -- a map, end to end ---------------------------------------------------------------


def test_the_stored_run_has_primary_and_agent_streams(mapped: dict[str, Any]) -> None:
    run = mapped["run"]
    stop = run.metadata["stop"]
    assert stop["exit_status"] == "success"
    assert stop["reason"] == "max_points"
    assert stop["num_events"] == {"primary": 24, "agent": 25}
    events = _events(run)
    primary, agent_events = events["primary"], events["agent"]
    assert len(primary) == 24
    actions = [e["data"]["agent_action"] for e in agent_events]
    assert actions == ["measure"] * 24 + ["stop"]
    # no point chosen twice (a decision made during a move avoids the point moved to)
    positions = {(e["data"]["motor1"], e["data"]["motor2"]) for e in primary}
    assert len(positions) == 24
    # each measurement was chosen by the decision recorded just before it
    for chosen, measured in zip(agent_events[:-1], primary, strict=True):
        assert chosen["data"]["agent_motor1"] == pytest.approx(measured["data"]["motor1"])
        assert chosen["data"]["agent_motor2"] == pytest.approx(measured["data"]["motor2"])
    # the first decision is the agent's space-filling design (8 points = 4 d), then one per ask
    decisions = [e["data"]["agent_decision"] for e in agent_events[:-1]]
    assert decisions[:8] == [0] * 8
    assert decisions[8:] == list(range(1, 17))
    assert {e["data"]["agent_acquisition"] for e in agent_events[:8]} == {"initial_design"}
    assert {e["data"]["agent_acquisition"] for e in agent_events[8:-1]} == {"map"}
    assert {e["data"]["agent_reason"] for e in agent_events[8:-1]} <= {"coverage", "uncertainty"}
    assert {e["data"]["agent_reason"] for e in agent_events[:8]} == {"initial_design"}
    last = agent_events[-1]["data"]
    assert last["agent_stop_reason"] == "max_points"
    assert last["agent_n_points"] == 24
    assert set(json.loads(last["agent_hyperparameters"])) >= {"noise.variance"}
    training = json.loads(last["agent_training"])
    assert training["n_accepted"] >= 1
    for event in agent_events[8:-1]:
        data = event["data"]
        assert np.isfinite(data["agent_predicted_mean"])
        assert data["agent_predicted_std"] > 0
        # decided while the motors moved to the previous point: it saw every point
        # before that one, and that one as pending
        assert data["agent_n_pending"] == 1
        assert data["agent_n_points"] == 8 + data["agent_decision"] - 2
    assert {e["data"]["agent_n_pending"] for e in agent_events[:8]} == {0}


def test_the_start_document_records_plan_space_target_and_agent(mapped: dict[str, Any]) -> None:
    start = mapped["run"].metadata["start"]
    assert start["plan_name"] == "autonomous_plan"
    assert start["sample"] == "two-peaks"
    assert start["plan_args"]["max_points"] == 24
    assert start["plan_args"]["space"] == {"motor1": [-2.0, 2.0], "motor2": [-1.5, 1.5]}
    assert start["hints"]["dimensions"] == [[["motor1"], "primary"], [["motor2"], "primary"]]
    meta = start["gpsteer"]
    assert meta["space"][0] == {"motor": "motor1", "field": "motor1", "lo": -2.0, "hi": 2.0}
    assert meta["target"] == {"kind": "field", "field": "det2d", "variance_field": None}
    assert meta["agent"] == mapped["agent"].configuration()
    assert meta["resumed_from"] is None


def test_the_agent_learned_every_measurement(mapped: dict[str, Any]) -> None:
    agent, primary = mapped["agent"], _events(mapped["run"])["primary"]
    X = np.array([[e["data"]["motor1"], e["data"]["motor2"]] for e in primary])
    y = np.array([e["data"]["det2d"] for e in primary])
    np.testing.assert_array_equal(agent.X, X)
    np.testing.assert_array_equal(agent.y, y)
    np.testing.assert_allclose(y, [field(*x) for x in X], rtol=0, atol=1e-12)


def _stop_doc(docs: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    return next(doc for name, doc in docs if name == "stop")


def _start_doc(docs: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    return next(doc for name, doc in docs if name == "start")


class SeriesOnlyAgent(Agent):
    """An agent whose ask takes no ``pending=`` (an older or a third-party agent)."""

    def ask(self, n: int = 1, *, current_position: Any = None) -> Any:  # type: ignore[override]
        return super().ask(n, current_position=current_position)


@pytest.mark.parametrize(
    ("agent_class", "pipeline", "pending"),
    [(Agent, True, 1), (Agent, False, 0), (SeriesOnlyAgent, True, 0)],
    ids=["pipelined", "in-series", "agent-without-pending"],
)
def test_each_record_says_which_data_the_decision_saw(
    bare_RE: RunEngine, agent_class: type, pipeline: bool, pending: int
) -> None:
    with Collector(bare_RE) as docs:
        bare_RE(
            autonomous_plan(
                [det2d],
                SPACE,
                target="det2d",
                agent=fast_agent(agent_class),
                max_points=14,
                progress=False,
                final_training=False,
                pipeline=pipeline,
            )
        )
    measured = [r for r in read_decisions(docs) if r.action == "measure"]
    assert len(measured) == 14
    assert _start_doc(docs)["plan_args"]["pipeline"] is pipeline
    for r in measured[8:]:  # after the 8-point design, one decision per point
        assert r.n_pending == pending
        # every reading before the one being measured (and that one too, in series)
        assert r.n_points == 8 + r.decision - 1 - pending


def test_a_batch_decision_shares_its_index(bare_RE: RunEngine) -> None:
    with Collector(bare_RE) as docs:
        bare_RE(
            autonomous_plan(
                [det2d],
                SPACE,
                target="det2d",
                agent=fast_agent(),
                max_points=14,
                batch_size=3,
                initial_points=5,
                progress=False,
                final_training=False,
            )
        )
    records = read_decisions(docs)
    measure = [(r.decision, r.batch_index) for r in records if r.action == "measure"]
    # 5 initial points, then batches of 3, the last one cut to the budget
    assert measure == [(0, i) for i in range(5)] + [(d, i) for d in (1, 2, 3) for i in range(3)]
    assert records[-1].action == "stop"


# -- stopping ------------------------------------------------------------------------


def test_a_target_uncertainty_stops_the_run(bare_RE: RunEngine) -> None:
    with Collector(bare_RE) as docs:
        bare_RE(
            autonomous_plan(
                [det2d],
                SPACE,
                target="det2d",
                agent=fast_agent(),
                max_points=50,
                target_uncertainty=1e6,
                progress=False,
                final_training=False,
            )
        )
    stop = _stop_doc(docs)
    assert stop["reason"] == "target_uncertainty"
    assert stop["num_events"]["primary"] == 8  # the first design only
    last = read_decisions(docs)[-1]
    assert last.stop_reason == "target_uncertainty"
    assert 0 < last.max_uncertainty <= 1e6


@pytest.mark.parametrize(
    ("pipeline", "measured", "points_seen"),
    [
        # in series: checked after each measurement, on all of them
        (False, 11, [0, 8, 9, 10, 11]),
        # pipelined: checked while the motors move to a point (counted, not yet told),
        # so a predicate on the agent's data stops one point later
        (True, 12, [0, 8, 9, 10, 11, 12]),
    ],
)
def test_a_user_predicate_stops_the_run(
    bare_RE: RunEngine, pipeline: bool, measured: int, points_seen: list[int]
) -> None:
    seen: list[int] = []

    def enough(agent: Agent, progress: Any) -> bool:
        seen.append(progress.points)
        return agent.n >= 11

    with Collector(bare_RE) as docs:
        bare_RE(
            autonomous_plan(
                [det2d],
                SPACE,
                target="det2d",
                agent=fast_agent(),
                max_points=50,
                stop_when=enough,
                progress=False,
                final_training=False,
                pipeline=pipeline,
            )
        )
    stop = _stop_doc(docs)
    assert stop["reason"] == "stop_when"
    assert stop["num_events"]["primary"] == measured
    assert seen == points_seen


def test_a_spent_time_budget_stops_before_any_motion(bare_RE: RunEngine) -> None:
    before = (motor1.position, motor2.position)
    agent = fast_agent()
    with Collector(bare_RE) as docs:
        bare_RE(
            autonomous_plan(
                [det2d],
                SPACE,
                target="det2d",
                agent=agent,
                max_points=50,
                max_time=1e-9,
                progress=False,
            )
        )
    stop = _stop_doc(docs)
    assert stop["reason"] == "max_time"
    assert stop["num_events"] == {"agent": 1}
    assert not any(name == "event" and "motor1" in doc["data"] for name, doc in docs)
    assert (motor1.position, motor2.position) == before
    assert agent.n == 0


# -- pause, resume, abort ------------------------------------------------------------


def _run_to_completion(RE: RunEngine, plan: Any) -> int:
    """Run ``plan``, resuming after every pause; return how many pauses there were."""
    pauses = 0
    try:
        RE(plan)
    except RunEngineInterrupted:
        pauses += 1
    while RE.state == "paused":
        try:
            RE.resume()
        except RunEngineInterrupted:
            pauses += 1
    return pauses


@pytest.mark.parametrize("pipeline", [True, False], ids=["pipelined", "in-series"])
def test_pause_and_resume_lose_nothing_and_repeat_no_decision(
    bare_RE: RunEngine, pipeline: bool
) -> None:
    RE = bare_RE
    agent = fast_agent(CountingAgent)
    pauses: list[str] = []

    def pause_while_deciding(agent: Agent, progress: Any) -> bool:
        # Runs in the decision thread (pipelined: while the motors move): pause there.
        if progress.points == 9 and "deciding" not in pauses:
            pauses.append("deciding")
            RE.request_pause()
        return False

    def pause_after_a_reading(name: str, doc: dict[str, Any]) -> None:
        # A pause requested from another thread lands between two messages after this
        # event; the RunEngine may re-take the point (same seq_num).
        if name == "event" and doc["seq_num"] == 13 and "reading" not in pauses:
            pauses.append("reading")
            threading.Thread(target=RE.request_pause).start()

    token = RE.subscribe(pause_after_a_reading, "event")
    try:
        with Collector(RE) as docs:
            n_pauses = _run_to_completion(
                RE,
                autonomous_plan(
                    [det2d],
                    SPACE,
                    target="det2d",
                    agent=agent,
                    max_points=18,
                    stop_when=pause_while_deciding,
                    progress=False,
                    final_training=False,
                    pipeline=pipeline,
                ),
            )
    finally:
        RE.unsubscribe(token)
    assert n_pauses == 2
    assert _stop_doc(docs)["exit_status"] == "success"
    events = _events(docs)
    seq = Counter(e["seq_num"] for e in events["primary"])
    assert sorted(seq) == list(range(1, 19))  # every point measured
    assert agent.n == 18  # a re-taken point is told once
    assert len({tuple(x) for x in agent.X}) == 18
    records = read_decisions(docs)
    assert [r.action for r in records].count("measure") == 18
    # one ask per decision: the first design plus one per later point
    assert agent.ask_calls == 1 + (18 - 8)


@pytest.mark.parametrize("pipeline", [True, False], ids=["pipelined", "in-series"])
def test_abort_closes_the_run_and_cancels_training(
    RE: RunEngine, catalog: Catalog, pipeline: bool
) -> None:
    agent = fast_agent()

    def pause_at_ten(agent: Agent, progress: Any) -> bool:
        if progress.points == 10:
            RE.request_pause()
        return False

    with pytest.raises(RunEngineInterrupted):
        RE(
            autonomous_plan(
                [det2d],
                SPACE,
                target="det2d",
                agent=agent,
                max_points=40,
                stop_when=pause_at_ten,
                progress=False,
                pipeline=pipeline,
            )
        )
    RE.abort(reason="test abort")
    assert RE.state == "idle"
    run = catalog[-1]
    assert run.metadata["stop"]["exit_status"] == "abort"
    stored = run.metadata["stop"]["num_events"]["primary"]
    # In series the pause comes before the 10th move; pipelined, during it (the 10th
    # reading is stored or not, as the pause and the reading race).
    assert stored == 10 if not pipeline else stored in (9, 10)
    assert agent.training_status().running is False
    assert agent.n == stored  # every stored point told once; the user's agent stays usable
    assert agent.ask(1).points.shape == (1, 2)


def test_abort_cancels_a_training_job_in_flight_on_dask(bare_RE: RunEngine) -> None:
    rng = np.random.default_rng(2)
    X = rng.uniform([b[0] for b in BOUNDS], [b[1] for b in BOUNDS], size=(300, 2))
    agent = fast_agent(
        training="dask", train_schedule=TrainingSchedule(first=301, n_starts=2, max_iter=200)
    )
    agent.tell(X, [field(*x) for x in X])

    def pause_once_training_runs(agent: Agent, progress: Any) -> bool:
        if progress.points == 1:  # this decision told the 301st point: a job was submitted
            assert agent.training_status().n_jobs == 1
            bare_RE.request_pause()
        return False

    try:
        with Collector(bare_RE) as docs:
            with pytest.raises(RunEngineInterrupted):
                bare_RE(
                    autonomous_plan(
                        [det2d],
                        SPACE,
                        target="det2d",
                        agent=agent,
                        max_points=10,
                        stop_when=pause_once_training_runs,
                        pipeline=False,  # the check must see the first point told
                        progress=False,
                    )
                )
            bare_RE.abort(reason="test abort")
        assert _stop_doc(docs)["exit_status"] == "abort"
        status = agent.training_status()
        assert status.n_jobs == 1 and status.n_accepted == 0
        agent.poll_training()  # the cancelled job is dropped, not taken in
        assert agent.training_status().n_accepted == 0
        assert agent.training_status().running is False
    finally:
        agent.close()


# -- the loop stays free while the model trains ----------------------------------------


def test_the_runengine_loop_is_not_blocked_by_training(
    bare_RE: RunEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inline training on 300 points takes seconds; it runs in the decision thread, never
    on the RunEngine's loop. (How long the loop waits is measured by
    benchmarks/bench_plan_overhead.py.)"""
    RE = bare_RE
    import gpsteer.training.manager as manager

    fit_threads: list[str] = []
    run_job = manager.run_job

    def recording_run_job(spec: Any) -> Any:  # the real fit, noting which thread runs it
        fit_threads.append(threading.current_thread().name)
        return run_job(spec)

    monkeypatch.setattr(manager, "run_job", recording_run_job)
    loop_thread: list[str] = []
    RE.loop.call_soon_threadsafe(lambda: loop_thread.append(threading.current_thread().name))
    rng = np.random.default_rng(1)
    X = rng.uniform([b[0] for b in BOUNDS], [b[1] for b in BOUNDS], size=(300, 2))
    agent = Agent(
        bounds=BOUNDS,
        seed=0,
        training="inline",
        optimizer=OptimizerSettings(n_candidates=64, n_starts=1, max_iter=10),
        train_schedule=TrainingSchedule(first=301, n_starts=2, max_iter=200),
    )
    agent.tell(X, [field(*x) for x in X])  # below the schedule's first training
    assert agent.training_status().n_jobs == 0
    RE(
        autonomous_plan(
            [det2d],
            SPACE,
            target="det2d",
            agent=agent,
            max_points=3,
            progress=False,
            final_training=False,
        )
    )
    assert agent.training_status().n_jobs == 1  # it trained, at 301 points, during the run
    assert len(fit_threads) == 1 and fit_threads[0].startswith("gpsteer-decide")
    assert loop_thread and fit_threads[0] != loop_thread[0]


# -- feedback ---------------------------------------------------------------------------


def test_the_live_plot_writes_the_map(bare_RE: RunEngine, tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    png = tmp_path / "live.png"
    live = LiveAgentPlot(png, min_interval=0.0, grid=20)
    agent = fast_agent()
    bare_RE(
        autonomous_plan(
            [det2d],
            SPACE,
            target="det2d",
            agent=agent,
            max_points=10,
            live_plot=live,
            progress=False,
            final_training=False,
        )
    )
    live.wait(timeout=60)
    # drawn at least once, at the end, from all 10 points (intermediate maps may be skipped)
    assert 1 <= live.redraws <= 10 - 8 + 1 + 1
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert live.figure.get_suptitle() == "10 points measured"
    # why the agent goes where it goes: the acquisition with the latest decision's point
    # on it, and the stop criterion's trend over the decisions
    titles = [ax.get_title() for ax in live.figure.axes if ax.get_title()]
    assert titles[:2] == ["posterior mean", "posterior std"]
    assert titles[2] in ("acquisition (coverage)", "acquisition (uncertainty)")
    assert titles[3] == "stop criterion"
    acquisition_panel = live.figure.axes[
        [ax.get_title() for ax in live.figure.axes].index(titles[2])
    ]
    (chosen,) = [
        line for line in acquisition_panel.get_lines() if line.get_label() == "latest choice"
    ]
    # batch_size 1: the latest decision's one point, the last one measured
    np.testing.assert_allclose([chosen.get_xdata(), chosen.get_ydata()], agent.X[-1:].T)


# -- validation inside a RunEngine, and the default agent --------------------------------


def test_bad_arguments_stop_a_plan_before_any_set_message(bare_RE: RunEngine) -> None:
    messages: list[Any] = []
    before = (motor1.position, motor2.position)

    def outer() -> Any:
        yield from bps.null()
        yield from autonomous_plan([det2d], {motor1: (1.0, -1.0)}, target="det2d", max_points=5)

    bare_RE.msg_hook = messages.append
    try:
        with pytest.raises(InputError, match="inverted"):
            bare_RE(outer())
    finally:
        bare_RE.msg_hook = None
    assert [m.command for m in messages] == ["null"]
    assert (motor1.position, motor2.position) == before


def test_the_default_agent_trains_on_dask_and_is_closed(bare_RE: RunEngine) -> None:
    with Collector(bare_RE) as docs:
        bare_RE(
            autonomous_plan([det2d], SPACE, target="det2d", max_points=10, seed=0, progress=False)
        )
    start = next(doc for name, doc in docs if name == "start")
    assert start["gpsteer"]["agent"]["training"] == "dask"
    assert start["plan_args"]["agent"] == "default"
    last = read_decisions(docs)[-1]
    assert last.action == "stop" and last.n_points == 10
    # the final training ran on Dask and was waited for before the stop event
    assert last.training["backend"] == "dask"
    assert last.training["n_accepted"] >= 1
    assert last.training["running"] is False
    assert multiprocessing.active_children() == []  # the embedded cluster is gone
