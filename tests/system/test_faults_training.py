"""Dask faults while ``autonomous_plan`` runs: the plan goes on, training recovers.

Real Dask: an embedded ``LocalCluster`` with a worker process (killed with SIGKILL
while it trains), and a separate ``dask scheduler`` process (killed mid-run). The
plans use ophyd.sim devices: the faults here are Dask's.

A *gate* holds a training job inside its worker without any timing assumption (as
in ``test_training_dask.py``): the model's prior mean is a function that, in a worker
process, writes its pid next to a gate file and waits while that file exists.

``test_training_dask.py`` covers the manager alone (resubmission, a second loss,
an unreachable address); here the same faults happen under a running plan.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from bluesky import RunEngine
from ophyd.sim import SynSignal, motor1, motor2

from gpsteer import Agent
from gpsteer.acquisition import OptimizerSettings
from gpsteer.agent import TrainingSchedule
from gpsteer.catalog import read_decisions
from gpsteer.errors import TrainingWarning
from gpsteer.gp import FunctionMean
from gpsteer.plans import autonomous_plan
from gpsteer.training import DaskTrainer
from tests.system.dask_processes import dask_processes
from tests.system.training_gate import DEADLINE, wait_until

pytestmark = [pytest.mark.system, pytest.mark.slow]

BOUNDS = [(-2.0, 2.0), (-1.5, 1.5)]
SPACE = {motor1: BOUNDS[0], motor2: BOUNDS[1]}
OPTIMIZER = OptimizerSettings(n_candidates=64, n_starts=1, max_iter=10)

det = SynSignal(
    func=lambda: float(np.sin(2 * motor1.position) * np.cos(motor2.position)), name="det"
)


def stop_doc(docs: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    return next(doc for name, doc in docs if name == "stop")


@pytest.fixture
def RE() -> Iterator[RunEngine]:
    engine = RunEngine(context_managers=[])
    yield engine
    engine.loop.call_soon_threadsafe(engine.loop.stop)


def run_collecting(RE: RunEngine, plan: Any) -> list[tuple[str, dict[str, Any]]]:
    docs: list[tuple[str, dict[str, Any]]] = []
    token = RE.subscribe(lambda name, doc: docs.append((name, doc)))
    try:
        RE(plan)
    finally:
        RE.unsubscribe(token)
    return docs


# -- a worker dies while it trains -------------------------------------------------------


class Gate:
    """Holds training inside worker processes while :attr:`path` exists."""

    def __init__(self, path: Path) -> None:
        self.path, self.pid_file = path, path.with_suffix(".pid")
        self.path.touch()

    def mean(self) -> FunctionMean:
        gate, pid_file, parent = str(self.path), str(self.pid_file), os.getpid()

        def held_constant(X: torch.Tensor, p: dict[str, torch.Tensor]) -> torch.Tensor:
            if os.getpid() != parent and os.path.exists(gate):
                Path(pid_file).write_text(str(os.getpid()))
                end = time.monotonic() + DEADLINE
                while os.path.exists(gate) and time.monotonic() < end:
                    time.sleep(0.02)
            return p["c"] + 0.0 * X[:, 0]

        return FunctionMean(held_constant, {"c": (0.0, (-10.0, 10.0))})

    def held_worker(self) -> int:
        """Wait until a worker is held; return its pid (and forget it)."""
        wait_until(lambda: self.pid_file.exists() and self.pid_file.read_text(), "a held job")
        pid = int(self.pid_file.read_text())
        self.pid_file.unlink()
        return pid

    def open(self) -> None:
        self.path.unlink(missing_ok=True)


def test_a_worker_killed_while_training_and_the_plan_goes_on(RE: RunEngine, tmp_path: Path) -> None:
    gate = Gate(tmp_path / "gate")
    agent = Agent(
        bounds=BOUNDS,
        mean=gate.mean(),
        training=DaskTrainer(n_workers=1, processes=True),
        seed=0,
        optimizer=OPTIMIZER,
        train_schedule=TrainingSchedule(first=8, factor=1.6, n_starts=1, max_iter=25),
    )
    pids: list[int] = []

    def kill_the_first_then_release() -> None:
        try:
            pids.append(gate.held_worker())  # the job submitted at 8 points
            os.kill(pids[0], signal.SIGKILL)
            pids.append(gate.held_worker())  # resubmitted, on the restarted worker
        finally:
            gate.open()

    killer = threading.Thread(target=kill_the_first_then_release, name="test-killer")
    killer.start()
    try:
        docs = run_collecting(
            RE,
            autonomous_plan([det], SPACE, target="det", agent=agent, max_points=16, progress=False),
        )
        killer.join(DEADLINE)
        status = agent.training_status()
    finally:
        gate.open()
        agent.close()
    assert len(pids) == 2 and pids[0] != pids[1]
    assert stop_doc(docs)["exit_status"] == "success"
    assert stop_doc(docs)["num_events"]["primary"] == 16 and agent.n == 16
    assert (status.n_lost, status.n_fallbacks) == (1, 0)  # resubmitted, not inline
    assert status.n_accepted >= 1 and status.last_accepted["backend"] == "dask"
    assert "JobLostError" in status.last_error
    assert read_decisions(docs)[-1].training["n_lost"] == 1  # recorded in the run
    assert multiprocessing.active_children() == []  # nothing outlives agent.close()


# -- the scheduler goes away -------------------------------------------------------------


@pytest.fixture
def scheduler(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen, subprocess.Popen]]:
    """A ``dask scheduler`` process and one ``dask worker`` process (no nanny: nothing
    restarts it) on 127.0.0.1: ``(address, scheduler, worker)``."""
    with dask_processes(tmp_path / "dask", 1, nanny=False) as cluster:
        yield cluster.address, cluster.scheduler, cluster.workers[0]


def _polled(agent: Agent) -> Any:
    agent.poll_training()
    return agent.training_status()


def test_the_scheduler_goes_away_and_training_falls_back_inline(
    RE: RunEngine, scheduler: tuple[str, subprocess.Popen, subprocess.Popen]
) -> None:
    address, process, _ = scheduler
    trainer = DaskTrainer(address=address, connect_timeout=2.0)
    agent = Agent(
        bounds=BOUNDS,
        training=trainer,
        seed=0,
        optimizer=OPTIMIZER,
        train_schedule=TrainingSchedule(first=6, factor=1.3, n_starts=1, max_iter=25),
    )

    def scheduler_dies_at_ten(agent: Agent, progress: Any) -> bool:
        if progress.points == 10:
            # (this runs in the decision thread, which owns the agent: poll it here)
            wait_until(lambda: _polled(agent).n_accepted, "a job done on the cluster")
            process.kill()
            process.wait()
            # the client gives up reconnecting after connect_timeout and closes
            wait_until(lambda: trainer.client.status == "closed", "the client to close")
        return False

    try:
        with pytest.warns(TrainingWarning, match="inline"):
            docs = run_collecting(
                RE,
                autonomous_plan(
                    [det],
                    SPACE,
                    target="det",
                    agent=agent,
                    max_points=20,
                    stop_when=scheduler_dies_at_ten,
                    progress=False,
                ),
            )
        status = agent.training_status()
    finally:
        agent.close()
    assert stop_doc(docs)["exit_status"] == "success"
    assert stop_doc(docs)["num_events"]["primary"] == 20 and agent.n == 20
    assert status.n_fallbacks >= 1 and status.address is None  # inline from now on
    assert status.last_accepted["backend"] == "inline"
    assert status.last_accepted["n_points"] == 20  # the final training ran, inline
    assert "went away" in status.last_error


# -- the only worker is killed and nothing restarts it ------------------------------------


def test_a_worker_killed_with_no_respawn_training_goes_inline_and_the_run_ends(
    RE: RunEngine, scheduler: tuple[str, subprocess.Popen, subprocess.Popen]
) -> None:
    """Issue 14, item 2: a client that is ``running`` with no workers. Before, the next
    training job waited on the scheduler for ever and the run hung at 100 % in its
    final training. Now the job fails after ``no_workers_timeout`` with NoWorkersError,
    it is trained inline (with a warning saying why), and the run ends."""
    address, _, worker = scheduler
    trainer = DaskTrainer(address=address, connect_timeout=2.0, no_workers_timeout=3.0)
    agent = Agent(
        bounds=BOUNDS,
        training=trainer,
        seed=0,
        optimizer=OPTIMIZER,
        train_schedule=TrainingSchedule(first=6, factor=1.3, n_starts=1, max_iter=25),
    )

    def worker_dies_at_eight(agent: Agent, progress: Any) -> bool:
        if progress.points == 8 and worker.poll() is None:
            # (this runs in the decision thread, which owns the agent: poll it here)
            wait_until(lambda: _polled(agent).n_accepted, "a job done on the cluster")
            worker.kill()  # SIGKILL, and no nanny to start another
            worker.wait()
            wait_until(lambda: trainer.client.scheduler_info()["n_workers"] == 0, "no worker")
        return False

    try:
        with pytest.warns(TrainingWarning, match="has had no workers"):
            docs = run_collecting(
                RE,
                autonomous_plan(
                    [det],
                    SPACE,
                    target="det",
                    agent=agent,
                    max_points=16,
                    stop_when=worker_dies_at_eight,
                    progress=False,
                ),
            )
        status = agent.training_status()
    finally:
        agent.close()
    assert stop_doc(docs)["exit_status"] == "success"
    assert stop_doc(docs)["num_events"]["primary"] == 16 and agent.n == 16
    assert status.n_fallbacks >= 1 and "NoWorkersError" in status.last_error
    assert status.last_accepted["backend"] == "inline"
    assert status.last_accepted["n_points"] == 16  # the final training ran, inline
    stop = read_decisions(docs)[-1]
    assert stop.action == "stop" and stop.training["n_fallbacks"] >= 1
