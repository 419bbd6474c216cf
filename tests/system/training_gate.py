"""A gate that holds Dask training jobs inside their worker process, and what tests of
training on Dask share.

The gate holds jobs in flight without any timing assumption: the model's prior mean
is a user function that, inside a worker process, writes its pid next to a gate file
and waits while that file exists. The test process itself is never held, so the
manager's re-scoring and inline fallback run freely.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from gpsteer.gp import FunctionMean, GaussianProcess
from gpsteer.training import TrainingManager

BOUNDS = [(0.0, 1.0), (0.0, 1.0)]
DEADLINE = 120.0  # seconds; only a hang reaches it


def smooth(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, (n, 2))
    return X, np.sin(2 * X[:, 0]) + 0.5 * X[:, 1] + 0.01 * rng.standard_normal(n)


def wait_until(condition: Callable[[], object], what: str) -> object:
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


class Gate:
    """Holds training steps inside worker processes while :attr:`path` exists."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pid_file = path.with_suffix(".pid")
        self.niceness: int | None = None  # of the last held worker thread
        self.path.touch()

    def mean(self) -> FunctionMean:
        gate, pid_file, parent = str(self.path), str(self.pid_file), os.getpid()

        def held_constant(X: torch.Tensor, p: dict[str, torch.Tensor]) -> torch.Tensor:
            if os.getpid() != parent and os.path.exists(gate):
                nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
                Path(pid_file).write_text(f"{os.getpid()} {nice}")
                end = time.monotonic() + DEADLINE
                while os.path.exists(gate) and time.monotonic() < end:
                    time.sleep(0.02)
            return p["c"] + 0.0 * X[:, 0]

        return FunctionMean(held_constant, {"c": (0.0, (-10.0, 10.0))})

    def model(self, X: np.ndarray, y: np.ndarray) -> GaussianProcess:
        gp = GaussianProcess(mean=self.mean(), input_bounds=BOUNDS)
        gp.set_data(X, y)
        return gp

    def held_worker(self, manager: TrainingManager, gp: GaussianProcess) -> int:
        """Wait until a worker is held at the gate; return its pid (and forget it).

        Polls meanwhile, as an agent does on every ask and tell (nothing can finish).
        """

        def held() -> bool:
            assert manager.poll(gp) is None
            return self.pid_file.exists() and bool(self.pid_file.read_text())

        wait_until(held, "a held job")
        pid, self.niceness = (int(v) for v in self.pid_file.read_text().split())
        self.pid_file.unlink()
        return pid

    def open(self) -> None:
        self.path.unlink(missing_ok=True)


def take(manager: TrainingManager, gp: GaussianProcess):
    """Poll until a job is taken in (poll itself never waits)."""
    return wait_until(lambda: manager.poll(gp), "a training outcome")
