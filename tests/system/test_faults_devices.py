"""Device faults during ``autonomous_plan`` on the simulated SAXS end station.

A real caproto IOC in a subprocess (stage and detector in one IOC, as at a beamline
whose end station is one IOC), ophyd's EpicsMotor, a real RunEngine and the embedded
catalog. The IOC is killed (SIGKILL: a crash, not a shutdown) while the plan runs,
then started again with the same PV prefix and port; ophyd reconnects by itself.

What must hold: the run fails with a :class:`~gpsteer.errors.DeviceError` that names
the device; every point measured before is in the catalog and told to the agent;
``resume_plan`` continues from there once the IOC is back. A move that times out
fails the same way. Saturated readings that a reduction refuses are recorded as
rejections in the ``agent`` stream and the plan goes on.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bluesky import RunEngine

from gpsteer import Agent
from gpsteer.acquisition import OptimizerSettings
from gpsteer.agent import TrainingSchedule
from gpsteer.catalog import Catalog, open_catalog, read_decisions, replay, run_documents
from gpsteer.devices.end_stations import end_station
from gpsteer.errors import DeviceError, InputError, RejectedReadingError
from gpsteer.plans import autonomous_plan, resume_plan
from gpsteer.sim_devices import launcher

pytestmark = pytest.mark.system

DOMAIN = [(-5.0, 5.0), (-5.0, 5.0)]  # the SAXS sample; the motors' soft limits are +-6
VELOCITY = 25.0  # mm/s
SATURATION = 300  # counts: "saturated" pixels for the test's reduction (0.3 s exposures)


class Station:
    """The SAXS IOC, which a test may kill and restart (same prefix and port)."""

    def __init__(self) -> None:
        self.ioc = launcher.start_ioc("saxs", seed=0, velocity=VELOCITY)
        self.prefix, self.port = self.ioc.handle.prefix, self.ioc.handle.port
        self.stage, self.det = end_station("saxs", self.prefix, timeout=15.0)

    def kill(self) -> None:
        """Crash the IOC: SIGKILL, no clean shutdown."""
        self.ioc.process.kill()
        self.ioc.process.wait()
        self.ioc.stop()  # bookkeeping only: it is dead
        with contextlib.suppress(OSError):
            os.unlink(self.ioc.handle.log_path)

    def restart(self) -> None:
        """Start the IOC again on the same prefix and port; wait until moves work.

        ophyd reports a reconnected motor as connected before the IOC's first DMOV
        monitor arrives; a move put in that window toggles DMOV 1 -> 0 -> 1 unseen
        and its status only ends at the timeout (5 of 15 restarts here). So wait for
        the fresh subscription's first DMOV update as well.
        """
        motors = (self.stage.x, self.stage.y)
        updated = {motor.name: threading.Event() for motor in motors}

        def watch(event: threading.Event) -> Callable[..., None]:
            return lambda *args, **kwargs: event.set()

        subscriptions = [
            (motor, motor.motor_done_move.subscribe(watch(updated[motor.name]), run=False))
            for motor in motors
        ]
        try:
            self.ioc = launcher.start_ioc(
                "saxs", seed=0, velocity=VELOCITY, prefix=self.prefix, port=self.port
            )
            self.stage.wait_for_connection(timeout=15.0)
            self.det.wait_for_connection(timeout=15.0)
            for motor in motors:
                if not updated[motor.name].wait(15.0):
                    raise TimeoutError(f"no DMOV monitor from {motor.name} 15 s after restart")
        finally:
            for motor, subscription in subscriptions:
                motor.motor_done_move.unsubscribe(subscription)

    def ensure_running(self) -> None:
        if not self.ioc.running:
            self.restart()

    @property
    def space(self) -> dict[Any, tuple[float, float]]:
        return {self.stage.x: DOMAIN[0], self.stage.y: DOMAIN[1]}


@pytest.fixture(scope="module")
def station() -> Iterator[Station]:
    st = Station()
    yield st
    st.kill()  # a kill, not SIGINT: no search reply from a half-closed server


@pytest.fixture
def running(station: Station) -> Station:
    station.ensure_running()
    return station


@pytest.fixture(scope="module")
def RE() -> Iterator[RunEngine]:
    engine = RunEngine(context_managers=[])
    yield engine
    engine.loop.call_soon_threadsafe(engine.loop.stop)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory, RE: RunEngine) -> Iterator[Catalog]:
    with open_catalog(tmp_path_factory.mktemp("faults") / "catalog") as cat:
        cat.subscribe(RE)
        yield cat


def fast_agent() -> Agent:
    return Agent(
        bounds=DOMAIN,
        seed=0,
        optimizer=OptimizerSettings(n_candidates=64, n_starts=1, max_iter=10),
        train_schedule=TrainingSchedule(first=8, factor=1.6, n_starts=1, n_starts_warm=1),
    )


def stored_positions(run: Any) -> np.ndarray:
    """The (x, y) readbacks of a stored run's primary events, in order."""
    streams: dict[str, str] = {}
    rows = []
    for name, doc in run_documents(run):
        if name == "descriptor":
            streams[doc["uid"]] = doc["name"]
        elif name == "event" and streams[doc["descriptor"]] == "primary":
            rows.append([doc["data"]["saxs_stage_x"], doc["data"]["saxs_stage_y"]])
    return np.array(rows).reshape(-1, 2)


def kill_at_trigger(station: Station, nth: int) -> Callable[[Any], None]:
    """A msg_hook that kills the IOC just before the nth trigger of the detector."""
    seen = {"n": 0}

    def hook(msg: Any) -> None:
        if msg.command == "trigger" and msg.obj is station.det:
            seen["n"] += 1
            if seen["n"] == nth:
                station.kill()

    return hook


# -- the detector's IOC dies -----------------------------------------------------------


def test_detector_ioc_dies_then_resume_continues(
    running: Station, RE: RunEngine, catalog: Catalog
) -> None:
    agent = fast_agent()
    RE.msg_hook = kill_at_trigger(running, 6)  # during the first design: no model yet
    try:
        with pytest.raises(DeviceError, match=r"^saxs failed while measuring") as raised:
            RE(
                autonomous_plan(
                    [running.det],
                    running.space,
                    target=("saxs_q0", "saxs_q0_variance"),
                    agent=agent,
                    max_points=12,
                    progress=False,
                )
            )
    finally:
        RE.msg_hook = None
    assert "point 6" in str(raised.value) and "resume_plan" in str(raised.value)
    run = catalog[-1]
    stop = run.metadata["stop"]
    assert stop["exit_status"] == "fail" and stop["reason"].startswith("saxs failed")
    assert stop["num_events"]["primary"] == 5  # every point measured before is stored
    np.testing.assert_array_equal(agent.X, stored_positions(run))  # and told to the agent

    running.restart()  # same prefix and port
    (uid,) = RE(resume_plan(run, [running.det], running.space, max_points=3, progress=False))
    resumed = catalog[uid]
    assert resumed.metadata["stop"]["exit_status"] == "success"
    assert resumed.metadata["start"]["gpsteer"]["resumed_from"] == run.metadata["start"]["uid"]
    assert resumed.metadata["stop"]["num_events"]["primary"] == 3
    rebuilt = replay(resumed)  # the chain: the failed run's 5 points, then 3 new ones
    assert rebuilt.n == 8
    np.testing.assert_array_equal(rebuilt.X[:5], stored_positions(run))


# -- the motors fail -------------------------------------------------------------------


def test_motor_ioc_dies_between_points(running: Station, RE: RunEngine, catalog: Catalog) -> None:
    agent = fast_agent()
    motors = (running.stage.x, running.stage.y)

    def crash_at_ten(agent: Agent, progress: Any) -> bool:
        if progress.points == 10:
            running.kill()
            # the client has seen the connection drop before the next move is sent
            end = time.monotonic() + 30.0
            while any(m.connected for m in motors) and time.monotonic() < end:
                time.sleep(0.05)
        return False

    for motor in motors:  # a safety net: never wait forever for a move
        motor.timeout = 30.0
    try:
        with pytest.raises(DeviceError, match=r"saxs_stage_[xy].* failed while moving to") as e:
            RE(
                autonomous_plan(
                    [running.det],
                    running.space,
                    target="saxs_q0",
                    agent=agent,
                    max_points=14,
                    stop_when=crash_at_ten,
                    progress=False,
                    pipeline=False,  # decisions (and so the crash) between points
                )
            )
    finally:
        for motor in motors:
            motor.timeout = None
    assert "point 11" in str(e.value) and "not connected" in str(e.value)
    run = catalog[-1]
    assert run.metadata["stop"]["exit_status"] == "fail"
    assert run.metadata["stop"]["num_events"]["primary"] == 10
    np.testing.assert_array_equal(agent.X, stored_positions(run))


def test_a_move_that_times_out_fails_naming_the_motor(
    running: Station, RE: RunEngine, catalog: Catalog
) -> None:
    agent = fast_agent()
    motors = (running.stage.x, running.stage.y)

    def crawl_from_nine(agent: Agent, progress: Any) -> bool:
        if progress.points == 9:  # a motor that stalls: 0.02 mm/s, 1 s allowed per move
            for motor in motors:
                motor.velocity.put(0.02)
                motor.timeout = 1.0
        return False

    try:
        with pytest.raises(DeviceError, match="StatusTimeoutError") as raised:
            RE(
                autonomous_plan(
                    [running.det],
                    running.space,
                    target="saxs_q0",
                    agent=agent,
                    max_points=12,
                    stop_when=crawl_from_nine,
                    progress=False,
                    pipeline=False,  # decisions (and so the slow-down) between points
                )
            )
    finally:
        for motor in motors:
            motor.velocity.put(VELOCITY)
            motor.timeout = None
    assert str(raised.value).startswith(("saxs_stage_x failed", "saxs_stage_y failed"))
    run = catalog[-1]
    assert run.metadata["stop"]["num_events"]["primary"] == 9
    assert agent.n == 9


def test_motor_ioc_dies_during_a_move_fails_within_the_default_timeout(
    running: Station, RE: RunEngine, catalog: Catalog
) -> None:
    """Issue 14, item 5: the IOC dies while a motor moves and nobody set motor.timeout.
    Before, the move never completed and the plan waited for ever; now every move of a
    motor record has a timeout from its distance and speed, and the run fails with the
    same DeviceError as a motor gone between points."""
    agent = fast_agent()
    motors = (running.stage.x, running.stage.y)
    assert all(m.timeout is None for m in motors)  # as the shipped profile leaves them
    for motor in motors:
        motor.velocity.put(1.0)  # 1 mm/s: a move between points lasts seconds
    killed = threading.Event()

    def kill_during_a_move() -> None:
        end = time.monotonic() + 120.0
        while not any(m.moving for m in motors) and time.monotonic() < end:
            time.sleep(0.005)
        running.kill()
        killed.set()

    started: list[int] = []

    def from_six(agent: Agent, progress: Any) -> bool:
        # the first decision made during the move to the 6th point (the plan's default)
        if progress.points >= 6 and not started:
            started.append(progress.points)
            threading.Thread(target=kill_during_a_move, name="test-killer").start()
        return False

    with pytest.raises(DeviceError, match="did not finish in time") as raised:
        RE(
            autonomous_plan(
                [running.det],
                running.space,
                target="saxs_q0",
                agent=agent,
                max_points=12,
                stop_when=from_six,
                progress=False,
            )
        )
    assert killed.is_set()
    message = str(raised.value)
    run = catalog[-1]
    measured = run.metadata["stop"]["num_events"]["primary"]
    # killed during the move to point 6 (or, had that move ended first, to point 7)
    assert measured in (started[0] - 1, started[0])
    assert message.startswith(("saxs_stage_x", "saxs_stage_y"))
    assert f"point {measured + 1} of run" in message
    assert "failed while moving to" in message and "StatusTimeoutError" in message
    assert run.metadata["stop"]["exit_status"] == "fail"
    assert agent.n == measured


def test_a_motor_that_is_not_connected_is_named_before_anything_moves() -> None:
    """Issue 14, item 8: ophyd's bare DisconnectedError, with no gpsteer context, before."""
    from ophyd import EpicsMotor
    from ophyd.sim import det

    ghost = EpicsMotor("gpsteer-no-such-ioc:x", name="ghost")
    with pytest.raises(DeviceError, match=r"'ghost' in space does not answer.*Nothing was moved"):
        autonomous_plan([det], {ghost: (0.0, 1.0)}, target="det", max_points=3)
    ghost.destroy()


def test_bounds_outside_the_motor_record_limits_are_refused(running: Station) -> None:
    assert running.stage.x.limits == (-6.0, 6.0)
    with pytest.raises(InputError, match=r"choose bounds within \[-6.0, 6.0\]"):
        autonomous_plan(
            [running.det],
            {running.stage.x: (-7.0, 0.0), running.stage.y: (-5.0, 5.0)},
            target="saxs_q0",
            max_points=5,
        )


# -- saturated readings ----------------------------------------------------------------


def saturation_checked_q0(readings: dict[str, Any]) -> tuple[float, float]:
    """q0 and its variance, unless the image has saturated pixels (then: rejected)."""
    image = np.asarray(readings["saxs_image"])
    saturated = int((image >= SATURATION).sum())
    if saturated:
        raise RejectedReadingError(
            f"saturated: {saturated} pixel(s) at or above {SATURATION} counts"
        )
    return float(readings["saxs_q0"]), float(readings["saxs_q0_variance"])


def test_saturated_readings_are_recorded_rejections_and_the_plan_goes_on(
    running: Station, RE: RunEngine, catalog: Catalog
) -> None:
    # At 0.3 s the brightest pixel has ~225-275 counts at x = -4.5 and ~325-405 at 4.5.
    points = [[-4.5, -3.0], [4.5, -3.0], [-4.5, 0.0], [4.5, 0.0], [-4.5, 3.0], [4.5, 3.0]]
    agent = fast_agent()
    acquire_time = running.det.acq.acquire_time
    acquire_time.put(0.3)
    try:
        (uid,) = RE(
            autonomous_plan(
                [running.det],
                running.space,
                target=saturation_checked_q0,
                agent=agent,
                max_points=9,
                initial_points=points,
                progress=False,
                final_training=False,
            )
        )
    finally:
        acquire_time.put(0.1)
    run = catalog[uid]
    assert run.metadata["stop"]["exit_status"] == "success"
    assert run.metadata["stop"]["num_events"]["primary"] == 9
    rejects = [r for r in read_decisions(run) if r.action == "reject"]
    rejected_seq = [int(r.message.split()[2]) for r in rejects]  # "reading seq_num N not..."
    assert {2, 4, 6} <= set(rejected_seq) and {1, 3, 5}.isdisjoint(rejected_seq)
    assert all("saturated:" in r.message for r in rejects)
    # the agent learned exactly the readings that were not rejected
    assert agent.n == 9 - len(rejects)
    told = stored_positions(run)[[s - 1 for s in range(1, 10) if s not in rejected_seq]]
    np.testing.assert_array_equal(agent.X, told)
    # replay applies the same reduction (imported by name) and rebuilds the same model
    assert replay(run).n == agent.n


def test_reconnected_devices_answer(running: Station, tmp_path: Path) -> None:
    """After the kills above, the same ophyd objects read the restarted IOC."""
    status = running.det.trigger()
    status.wait(15)
    assert np.isfinite(running.det.q0.get())
    assert running.stage.x.limits == (-6.0, 6.0)
