"""A Dask cluster started the way a facility starts one: separate processes, by command.

``dask scheduler`` and ``dask worker`` (the commands a beamline computer or an HPC
job script runs), on 127.0.0.1, each in its own session so that stopping the cluster
reaches the processes a worker's nanny starts. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil

START_TIMEOUT = 120.0  # seconds for the scheduler file and the workers; only a hang waits
STOP_TIMEOUT = 20.0  # seconds for a graceful stop before SIGKILL


def dask_command() -> str:
    """The ``dask`` command of this interpreter's environment (what a user types)."""
    return str(Path(sys.executable).with_name("dask"))


@dataclass
class DaskProcesses:
    """A running ``dask scheduler`` and its ``dask worker`` processes."""

    address: str
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen] = field(default_factory=list)

    def process_tree(self) -> list[psutil.Process]:
        """Every process of the cluster: the commands and what they started (nannies'
        workers)."""
        tree = []
        for popen in [self.scheduler, *self.workers]:
            try:
                root = psutil.Process(popen.pid)
                tree += [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
        return tree

    def stop(self) -> None:
        """SIGTERM to each process group (as ``scancel`` or a closing terminal does), wait
        for every process of the cluster (the nannies' workers too), SIGKILL what is left
        after :data:`STOP_TIMEOUT`."""
        tree = self.process_tree()
        popens = [*self.workers, self.scheduler]
        for popen in popens:
            _signal_group(popen, signal.SIGTERM)
        _, alive = psutil.wait_procs(tree, timeout=STOP_TIMEOUT)
        for process in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        psutil.wait_procs(alive, timeout=STOP_TIMEOUT)
        for popen in popens:
            popen.wait(timeout=STOP_TIMEOUT)  # reaped already, or now


def still_running(process: psutil.Process | int) -> bool:
    """Alive and not a zombie (one whose parent has not reaped it yet has ended)."""
    try:
        process = psutil.Process(process) if isinstance(process, int) else process
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _signal_group(popen: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group has ended already
        os.killpg(popen.pid, signum)


@contextmanager
def dask_processes(
    directory: Path,
    n_workers: int = 1,
    *,
    nanny: bool = True,
    death_timeout: float = 10.0,
) -> Iterator[DaskProcesses]:
    """Start a scheduler and ``n_workers`` single-threaded worker processes; stop them all
    on exit.

    The scheduler writes its address to a scheduler file (``--port 0``: a free port,
    no race), as on a shared file system at a facility; the workers find it there.
    """
    from distributed import Client

    directory.mkdir(parents=True, exist_ok=True)
    scheduler_file = directory / "scheduler.json"
    scheduler_file.unlink(missing_ok=True)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "start_new_session": True}
    scheduler_options = ["--host", "127.0.0.1", "--port", "0", "--no-dashboard"]
    scheduler = subprocess.Popen(
        [dask_command(), "scheduler", *scheduler_options, "--scheduler-file", str(scheduler_file)],
        **quiet,
    )
    worker_options = ["--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"]
    worker_options += ["--death-timeout", str(death_timeout), "--nanny" if nanny else "--no-nanny"]
    cluster = DaskProcesses(address="", scheduler=scheduler)
    try:
        cluster.address = _read_address(scheduler_file, scheduler)
        for i in range(n_workers):
            cluster.workers.append(
                subprocess.Popen(
                    [
                        dask_command(),
                        "worker",
                        "--scheduler-file",
                        str(scheduler_file),
                        *worker_options,
                        "--name",
                        f"worker-{i}",
                    ],
                    **quiet,
                )
            )
        with Client(cluster.address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(n_workers, timeout=START_TIMEOUT)
        yield cluster
    finally:
        cluster.stop()


def _read_address(scheduler_file: Path, scheduler: subprocess.Popen) -> str:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if scheduler.poll() is not None:
            raise RuntimeError(f"`dask scheduler` exited with status {scheduler.returncode}")
        try:
            return str(json.loads(scheduler_file.read_text())["address"])
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            time.sleep(0.05)
    raise TimeoutError(f"`dask scheduler` wrote no {scheduler_file} in {START_TIMEOUT} s")
