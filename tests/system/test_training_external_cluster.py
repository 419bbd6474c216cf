"""Training on a Dask cluster as it is deployed: a ``dask scheduler`` and several
``dask worker`` processes started separately by command (issue 17, item 4).

What a facility's cluster or an HPC allocation gives the agent is an address; these
tests start one on 127.0.0.1 the way a job script does, train through it, and check
that it gives the same numbers as the embedded ``LocalCluster`` and as training in
process, that a worker killed by PID loses nothing, and that stopping the cluster
leaves nothing running. On connecting, the agent checks that the workers run this
session's gpsteer and torch.
"""

from __future__ import annotations

import os
import signal
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from distributed import Client, get_task_stream

from gpsteer import Agent
from gpsteer.errors import TrainingError, TrainingWarning
from gpsteer.gp import GaussianProcess
from gpsteer.training import DaskTrainer, TrainingManager
from gpsteer.training.jobs import JobResult, make_job, run_job
from gpsteer.training.worker_environment import PACKAGES, environment_problems, local_versions
from tests.system.dask_processes import DaskProcesses, dask_processes, still_running
from tests.system.training_gate import BOUNDS, DEADLINE, Gate, smooth, take, wait_until

pytestmark = [pytest.mark.system, pytest.mark.slow]

N_WORKERS = 2


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskProcesses]:
    """One scheduler and two single-threaded workers (with nannies), shared by the module."""
    with dask_processes(tmp_path_factory.mktemp("dask"), N_WORKERS) as running:
        yield running


def n_workers(address: str) -> int:
    with Client(address, timeout=30, set_as_default=False) as client:
        return len(client.scheduler_info()["workers"])


def same_optima(a: JobResult, b: JobResult) -> bool:
    """Bit-identical: every step runs with one torch thread, whichever process runs it."""
    return len(a.optima) == len(b.optima) and all(
        np.array_equal(x.theta, y.theta) and x.neg_log_likelihood == y.neg_log_likelihood
        for x, y in zip(a.optima, b.optima, strict=True)
    )


def test_a_job_gives_the_same_numbers_as_the_embedded_cluster_and_in_process(
    cluster: DaskProcesses,
) -> None:
    # 700 points: starts run on a 500-point subset, then polish steps on all the data,
    # so every kind of step runs on the external workers.
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, (700, 2))
    y = np.sin(3 * X[:, 0]) + X[:, 1] ** 2 + 0.01 * rng.standard_normal(700)
    gp = GaussianProcess(input_bounds=BOUNDS)
    gp.set_data(X, y)
    spec = make_job(gp, np.random.default_rng(1), n_starts=3, max_iter=60)
    assert spec.subset is not None

    with DaskTrainer(address=cluster.address) as external:
        with get_task_stream(client=external.client) as tasks:
            on_external = external.submit(spec).result(timeout=DEADLINE)
    with DaskTrainer(n_workers=N_WORKERS, processes=True) as embedded:
        on_embedded = embedded.submit(spec).result(timeout=DEADLINE)
    in_process = run_job(spec)

    assert on_external.optima and same_optima(on_external, in_process)
    assert same_optima(on_embedded, in_process)
    assert on_external.n_steps == in_process.n_steps == spec.n_starts + spec.n_polish + 2
    assert len({task["worker"] for task in tasks.data}) == N_WORKERS  # the job was spread


def test_an_agent_trains_there_and_leaves_the_cluster_as_it_found_it(
    cluster: DaskProcesses,
) -> None:
    processes = {p.pid for p in cluster.process_tree()}
    agent = Agent(bounds=BOUNDS, training=cluster.address, seed=0, train_schedule="never")
    try:
        agent.tell(*smooth(40))
        assert agent.train_async()  # the one job: training on schedule is off
        agent.training_future.result(timeout=DEADLINE)
        agent.poll_training()
        status = agent.training_status()
    finally:
        agent.close()
    assert (status.backend, status.address) == ("dask", cluster.address)
    assert (status.n_jobs, status.n_accepted, status.n_fallbacks) == (1, 1, 0)
    assert status.last_accepted["backend"] == "dask"
    # closing the agent closed its connection only: the facility's cluster runs on
    assert {p.pid for p in cluster.process_tree() if still_running(p)} == processes
    assert n_workers(cluster.address) == N_WORKERS


def test_a_worker_killed_by_pid_mid_job_loses_no_training(
    cluster: DaskProcesses, tmp_path: Path
) -> None:
    gate = Gate(tmp_path / "gate")
    gp = gate.model(*smooth(30))
    try:
        with TrainingManager(cluster.address, seed=0, n_starts=2, max_iter=60) as manager:
            manager.submit(gp)
            killed = gate.held_worker(manager, gp)
            os.kill(killed, signal.SIGKILL)
            # the scheduler hands the lost steps to the other worker, still at the gate
            assert gate.held_worker(manager, gp) != killed
            gate.open()
            outcome = take(manager, gp)
            status = manager.status()
    finally:
        gate.open()
    assert not still_running(killed)
    assert outcome.accepted and outcome.backend == "dask" and not outcome.fallback
    assert status.n_accepted == 1 and status.n_fallbacks == 0
    # the killed worker's nanny started a new one: the cluster is whole again
    wait_until(lambda: n_workers(cluster.address) == N_WORKERS, "the restarted worker")


def test_stopping_the_cluster_leaves_nothing_running(tmp_path: Path) -> None:
    with dask_processes(tmp_path / "dask", N_WORKERS) as running:
        tree = running.process_tree()
        address = running.address
        # the scheduler, each nanny and its worker (and multiprocessing's helpers)
        assert len(tree) >= 1 + 2 * N_WORKERS
    assert not [p for p in tree if still_running(p)]
    with pytest.raises(TrainingError, match=address):
        DaskTrainer(address=address, connect_timeout=1.0)


def test_the_workers_environment_is_checked_on_connecting(cluster: DaskProcesses) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingWarning)  # same environment: nothing to say
        DaskTrainer(address=cluster.address).close()
    # the check reads what the workers report, in the shape Dask reports it
    with Client(cluster.address, timeout=30, set_as_default=False) as client:
        workers = client.get_versions(packages=list(PACKAGES))["workers"]
    assert len(workers) == N_WORKERS
    assert environment_problems(workers, local_versions()) == ([], [])
    first, second = sorted(workers)
    workers[first]["packages"]["gpsteer"] = None  # a worker without gpsteer
    workers[second]["packages"]["torch"] = "2.9.0"  # a worker with another torch
    missing, different = environment_problems(workers, local_versions())
    assert missing == [first] and different == [f"{second}: torch 2.9.0 (here {torch_here()})"]


def torch_here() -> str | None:
    return local_versions()["torch"]
