"""System tests of asynchronous training on a real Dask ``LocalCluster`` (127.0.0.1).

A *gate* (:mod:`tests.system.training_gate`) holds jobs in flight without any timing
assumption.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psutil
import pytest
import torch

from gpsteer.errors import TrainingError, TrainingWarning
from gpsteer.gp import GaussianProcess
from gpsteer.training import DaskTrainer, TrainingManager
from gpsteer.training.scoring import log_likelihood_at
from gpsteer.training.trainers import is_cancelled
from tests.system.training_gate import BOUNDS, DEADLINE, Gate, smooth, take, wait_until

pytestmark = pytest.mark.system

FAST = {"n_starts": 2, "max_iter": 60}


def rough(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, (n, 2))
    return X, np.sin(40 * X[:, 0]) * np.cos(30 * X[:, 1]) + 0.01 * rng.standard_normal(n)


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[Gate]:
    g = Gate(tmp_path / "gate")
    yield g
    g.open()  # never leave a worker held


def process_state() -> tuple[set[int], set[int]]:
    """Ids of live threads and child processes of this process."""
    threads = {t.ident for t in threading.enumerate() if t.is_alive()}
    return threads, {p.pid for p in psutil.Process().children(recursive=True)}


@pytest.fixture(scope="module")
def warmed_up() -> None:
    """One embedded cluster started and closed, so Dask's process-wide helpers exist.

    Dask keeps a few helpers for the life of the process once used (an offload thread,
    the future-callback thread, multiprocessing's resource tracker); leak checks compare
    against the state after they exist.
    """
    gp = GaussianProcess(input_bounds=BOUNDS)
    gp.set_data(*smooth(20))
    with TrainingManager(DaskTrainer(n_workers=1, processes=True), **FAST) as manager:
        manager.submit(gp)
        take(manager, gp)


@pytest.fixture(scope="module")
def trainer(warmed_up: None) -> Iterator[DaskTrainer]:
    """An embedded cluster with one worker process, shared by tests that do not close it."""
    with DaskTrainer(n_workers=1, processes=True) as t:
        t.start()
        yield t


def wait_for_worker(trainer: DaskTrainer) -> None:
    """Leave the shared cluster as found: its (restarted) worker registered again."""
    trainer.client.wait_for_workers(1, timeout=DEADLINE)


def manager_on(trainer: DaskTrainer, **options: object) -> TrainingManager:
    return TrainingManager(trainer, seed=0, close_trainer=False, **{**FAST, **options})


# ---------------------------------------------------------------------- acceptance
def test_async_result_worse_on_current_data_is_rejected(trainer: DaskTrainer, gate: Gate) -> None:
    gp = gate.model(*smooth(30))
    start = gp.theta.detach().numpy().copy()  # the values the model started from
    with manager_on(trainer) as manager:
        assert manager.submit(gp)
        gate.held_worker(manager, gp)
        assert not manager.future.done()  # submit returned while the job is running
        assert manager.poll(gp) is None  # and poll does not wait for it
        gp.append(*rough(70))  # very different data arrive meanwhile ...
        manager.train_now(gp)  # ... and the model is trained on them in process
        theta_now = gp.theta.clone()
        gate.open()
        outcome = take(manager, gp)
        assert outcome.backend == "dask" and outcome.rescored and not outcome.accepted
        assert outcome.log_likelihood_candidate < outcome.log_likelihood_before
        # the best candidate re-scored on the new data: the job's optima, the start values
        candidates = [o.theta for o in outcome.optima[:4]] + [start]
        best = max(log_likelihood_at(gp, theta) for theta in candidates)
        assert outcome.log_likelihood_candidate == pytest.approx(best)
        torch.testing.assert_close(gp.theta, theta_now)
        assert outcome.resubmitted  # the data grew: a job on all 100 points follows
        assert manager.status().n_rejected == 1


def test_data_grown_during_a_job_resubmits_on_the_newest_data(
    trainer: DaskTrainer, gate: Gate
) -> None:
    gp = gate.model(*smooth(40))
    with manager_on(trainer) as manager:
        manager.submit(gp)
        gate.held_worker(manager, gp)
        assert gate.niceness == 10  # the embedded workers' training yields the CPU
        status = manager.status()
        assert status.running and status.n_points_in_job == 40
        gp.append(*smooth(8, seed=3))
        gate.open()
        first = take(manager, gp)
        assert first.n_points_job == 40 and first.rescored and first.resubmitted
        assert first.accepted  # similar data: the job's optimum is better than the defaults
        assert manager.status().n_points_in_job == 48
        second = take(manager, gp)
        assert second.n_points_job == 48 and not second.rescored and not second.resubmitted
        assert manager.status().n_jobs == 2 and manager.future is None


# ---------------------------------------------------------------------- failures
def test_killed_worker_job_is_resubmitted(trainer: DaskTrainer, gate: Gate) -> None:
    gp = gate.model(*smooth(30))
    with manager_on(trainer) as manager:
        manager.submit(gp)
        os.kill(gate.held_worker(manager, gp), signal.SIGKILL)
        lost = take(manager, gp)
        assert lost.resubmitted and not lost.accepted and "JobLostError" in lost.error
        gate.open()
        outcome = take(manager, gp)
        status = manager.status()
    assert outcome.accepted and outcome.backend == "dask" and not outcome.fallback
    assert (status.n_lost, status.n_fallbacks, status.n_accepted) == (1, 0, 1)
    wait_for_worker(trainer)


def test_worker_dropped_by_the_cluster_is_restored(trainer: DaskTrainer) -> None:
    # LocalCluster closes a crashed worker's nanny if no replacement registered within
    # lost-worker-timeout (15 s; here 0.1 s, so the restart always loses that race),
    # which would leave a one-worker cluster unable to run anything, for good.
    import dask

    gp = GaussianProcess(input_bounds=BOUNDS)
    gp.set_data(*smooth(30))
    from distributed.core import Status

    (pid,) = trainer.client.run(os.getpid).values()
    (nanny,) = trainer._cluster.workers.values()
    with dask.config.set({"distributed.deploy.lost-worker-timeout": "0.1s"}):
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: nanny.status == Status.closed, "the cluster to drop its worker")
    assert not trainer._cluster.workers
    with manager_on(trainer) as manager:
        manager.submit(gp)
        outcome = take(manager, gp)  # polling restores the worker, which runs the job
        status = manager.status()
    assert outcome.accepted and outcome.backend == "dask"
    assert (status.n_lost, status.n_fallbacks) == (0, 0)
    assert len(trainer._cluster.workers) == 1


def test_job_lost_twice_falls_back_to_inline(trainer: DaskTrainer, gate: Gate) -> None:
    gp = gate.model(*smooth(30))
    with manager_on(trainer) as manager:
        manager.submit(gp)
        first_pid = gate.held_worker(manager, gp)
        os.kill(first_pid, signal.SIGKILL)
        assert take(manager, gp).resubmitted
        second_pid = gate.held_worker(manager, gp)  # the resubmitted job, on the restarted worker
        assert second_pid != first_pid
        os.kill(second_pid, signal.SIGKILL)
        with pytest.warns(TrainingWarning, match="lost twice"):
            outcome = take(manager, gp)
        status = manager.status()
    assert outcome.fallback and outcome.accepted and outcome.backend == "inline"
    assert (status.n_lost, status.n_fallbacks) == (2, 1)
    wait_for_worker(trainer)


def test_unreachable_scheduler_raises_naming_it(warmed_up: None) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    threads, children = process_state()
    with pytest.raises(TrainingError, match=address):
        DaskTrainer(address=address, connect_timeout=1.0)
    with pytest.raises(TrainingError, match=address):
        TrainingManager(address)  # what Agent(training="tcp://...") does
    assert process_state() == (threads, children)


# ---------------------------------------------------------------------- closing
def test_close_cancels_and_leaves_nothing_running(warmed_up: None, gate: Gate) -> None:
    threads, children = process_state()
    gp = gate.model(*smooth(30))
    manager = TrainingManager(DaskTrainer(n_workers=1, processes=True), **FAST)
    manager.submit(gp)
    future = manager.future
    worker = gate.held_worker(manager, gp)
    assert worker in process_state()[1]
    manager.close()
    assert is_cancelled(future)
    assert manager.future is None and not manager.status().running
    assert not psutil.pid_exists(worker) or psutil.Process(worker).status() == "zombie"
    assert process_state() == (threads, children)


def test_existing_client_is_used_and_left_open(trainer: DaskTrainer, gate: Gate) -> None:
    from distributed import Client

    gp = gate.model(*smooth(30))
    with Client(trainer.address, set_as_default=False) as client:
        manager = TrainingManager(DaskTrainer(client=client), seed=0, **FAST)
        assert manager.status().address == trainer.address
        manager.submit(gp)
        gate.held_worker(manager, gp)
        manager.close()  # cancels our tasks but must not close the user's client

        def scheduler_tasks(dask_scheduler) -> list[str]:
            return [str(key) for key in dask_scheduler.tasks]

        wait_until(lambda: not client.run_on_scheduler(scheduler_tasks), "no tasks left")
        assert client.status == "running"
        gate.open()
        assert client.submit(sum, [1, 2]).result() == 3


def test_a_worker_ignores_a_terminals_ctrl_c(trainer: DaskTrainer, gate: Gate) -> None:
    """Ctrl-C in a terminal is SIGINT to the whole foreground process group: worker
    processes included. Before issue 14 a worker closed on it, its nanny did not restart
    it, and the cluster was left with no workers; now the signal is blocked in them."""
    gp = gate.model(*smooth(30))
    with manager_on(trainer) as manager:
        manager.submit(gp)
        pid = gate.held_worker(manager, gp)
        os.kill(pid, signal.SIGINT)  # what the terminal sends every process of the group
        gate.open()
        outcome = take(manager, gp)
        status = manager.status()
    assert outcome.backend == "dask" and not outcome.fallback
    assert (status.n_lost, status.n_fallbacks) == (0, 0)
    assert list(trainer.client.run(os.getpid).values()) == [pid]  # the same worker, alive


def test_a_cluster_left_without_workers_gets_them_back_through_a_shared_client(
    trainer: DaskTrainer,
) -> None:
    """The beamline profile's agents train on the session's client, not on its trainer.
    A worker that closed itself (as one did on a terminal's Ctrl-C before issue 14) is
    not restarted by its nanny: the agent's trainer notices and starts another."""
    gp = GaussianProcess(input_bounds=BOUNDS)
    gp.set_data(*smooth(30))
    client = trainer.client
    client.retire_workers(list(client.scheduler_info()["workers"]), close_workers=True)
    wait_until(lambda: not client.scheduler_info()["workers"], "the worker to close")
    with TrainingManager(DaskTrainer(client=client), seed=0, **FAST) as manager:
        manager.submit(gp)
        outcome = take(manager, gp)  # polling starts a worker, which runs the job
        status = manager.status()
    assert outcome.backend == "dask" and not outcome.fallback
    assert (status.n_lost, status.n_fallbacks) == (0, 0)
    wait_for_worker(trainer)
