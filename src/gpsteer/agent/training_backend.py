"""How the agent drives :mod:`gpsteer.training`: one small adapter around a TrainingManager.

``training="inline"`` trains synchronously when the schedule says so (inside ``tell``);
any other trainer (``"dask"``, a scheduler address, a ``distributed.Client``, a
:class:`~gpsteer.training.Trainer`) submits a background job instead and the agent
takes the result in on its next ``tell``/``ask``, under the manager's data-aware
acceptance rule. A :class:`~gpsteer.training.TrainingManager` may also be passed as is.
"""

from __future__ import annotations

from typing import Any

from gpsteer.errors import InputError
from gpsteer.gp.fit import FitResult
from gpsteer.gp.model import GaussianProcess
from gpsteer.training import TrainingManager, TrainingOutcome, TrainingStatus, make_trainer

__all__ = ["TrainingBackend", "make_training"]


class TrainingBackend:
    """The agent's view of training: scheduled, synchronous, background, status."""

    def __init__(self, manager: TrainingManager) -> None:
        self.manager = manager

    @property
    def asynchronous(self) -> bool:
        return self.manager.backend != "inline"

    def busy(self) -> bool:
        """A job is in flight (or finished and not yet taken in)."""
        return self.manager.future is not None

    def schedule(self, gp: GaussianProcess, *, n_starts: int) -> bool:
        """Scheduled training: now (inline) or submitted (background). True if it happened."""
        self.manager.n_starts = n_starts
        if self.asynchronous:
            return self.manager.submit(gp)
        self.manager.train_now(gp)
        return True

    def train_now(self, gp: GaussianProcess, *, n_starts: int) -> FitResult:
        self.manager.n_starts = n_starts
        return self.manager.train_now(gp)

    def submit(self, gp: GaussianProcess) -> bool:
        return self.manager.submit(gp)

    def poll(self, gp: GaussianProcess) -> TrainingOutcome | None:
        return self.manager.poll(gp)

    def status(self) -> TrainingStatus:
        return self.manager.status()

    def cancel(self) -> None:
        """Cancel the in-flight job, if any, keeping the manager usable."""
        self.manager.cancel()

    def close(self) -> None:
        self.manager.close()


def make_training(spec: Any, *, max_iter: int, seed: int | None) -> TrainingBackend:
    """A backend from ``Agent(training=...)``: a name, an address, a client, a trainer or a
    :class:`~gpsteer.training.TrainingManager`."""
    if isinstance(spec, TrainingManager):
        return TrainingBackend(spec)
    if spec is None:
        raise InputError(
            "training must be 'inline', 'dask', a scheduler address, a distributed.Client, a "
            "Trainer or a TrainingManager; to never train automatically use "
            "train_schedule='never'."
        )
    return TrainingBackend(TrainingManager(make_trainer(spec), max_iter=max_iter, seed=seed))
