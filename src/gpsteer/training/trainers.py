"""Trainers: where a training job runs. One interface, two places (in process, on Dask).

A trainer takes a :class:`~gpsteer.training.jobs.JobSpec` and returns a
:class:`concurrent.futures.Future` of its :class:`~gpsteer.training.jobs.JobResult`
at once; it knows nothing of acceptance rules or of the live model (that is the
:class:`~gpsteer.training.manager.TrainingManager`'s job). Both trainers hand back the
same kind of future, so callers (and :func:`gpsteer.plan_stubs.futures.wait_for_future`)
treat them alike.
"""

from __future__ import annotations

import abc
from concurrent.futures import CancelledError, Future
from typing import Any, ClassVar

from gpsteer.errors import InputError
from gpsteer.training.jobs import JobResult, JobSpec, run_job

__all__ = ["InlineTrainer", "Trainer", "make_trainer"]


class Trainer(abc.ABC):
    """Runs training jobs somewhere and reports each one through a future.

    Subclasses set :attr:`backend` and implement :meth:`submit`; :meth:`cancel` and
    :meth:`close` default to doing nothing. Trainers are context managers.
    """

    backend: ClassVar[str] = "?"

    @abc.abstractmethod
    def submit(self, spec: JobSpec) -> Future[JobResult]:
        """Start ``spec`` and return a future of its result without waiting for it."""

    def run(self, spec: JobSpec) -> JobResult:
        """Run ``spec`` here and now (the synchronous path every trainer shares)."""
        return run_job(spec)

    def check(self) -> None:  # noqa: B027 - optional hook
        """Keep the trainer able to run jobs; called by the manager on every poll (cheap)."""

    def cancel(self, future: Future[JobResult]) -> None:  # noqa: B027 - optional hook
        """Stop the job behind ``future`` if it can still be stopped."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Cancel jobs and release what the trainer started (idempotent)."""

    @property
    def address(self) -> str | None:
        """Where jobs run, for provenance (a scheduler address), or None in process."""
        return None

    def __enter__(self) -> Trainer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InlineTrainer(Trainer):
    """Train synchronously in the calling thread; :meth:`submit` returns a finished future.

    Why have it: no cluster to start, deterministic, and the fallback when Dask fails.
    The caller waits for the whole job inside :meth:`submit`.
    """

    backend: ClassVar[str] = "inline"

    def submit(self, spec: JobSpec) -> Future[JobResult]:
        future: Future[JobResult] = Future()
        future.set_running_or_notify_cancel()
        try:
            future.set_result(self.run(spec))
        except Exception as exc:  # reported through the future, like a remote failure
            future.set_exception(exc)
        return future

    def __repr__(self) -> str:
        return "InlineTrainer()"


def make_trainer(spec: Trainer | str | Any = "inline") -> Trainer:
    """A trainer from a short description (what ``Agent(training=...)`` accepts).

    ``"inline"``; ``"dask"`` (an embedded ``LocalCluster`` on 127.0.0.1, started on first
    use); a scheduler address such as ``"tcp://10.0.0.5:8786"``; a
    ``distributed.Client``; or a :class:`Trainer`, returned as is.
    """
    if isinstance(spec, Trainer):
        return spec
    if isinstance(spec, str):
        if spec == "inline":
            return InlineTrainer()
        from gpsteer.training.dask_trainer import DaskTrainer

        if spec == "dask":
            return DaskTrainer()
        if "://" in spec:
            return DaskTrainer(address=spec)
        raise InputError(
            f"Unknown training backend {spec!r}; use 'inline', 'dask', a scheduler address "
            "('tcp://host:8786'), a distributed.Client or a Trainer."
        )
    if type(spec).__name__ == "Client" and callable(getattr(spec, "submit", None)):
        from gpsteer.training.dask_trainer import DaskTrainer

        return DaskTrainer(client=spec)
    raise InputError(
        f"training must be 'inline', 'dask', a scheduler address, a distributed.Client or a "
        f"Trainer; got {type(spec).__name__}."
    )


def is_cancelled(future: Future[Any]) -> bool:
    """True if ``future`` was cancelled (by :meth:`Trainer.cancel` or ``future.cancel()``)."""
    if future.cancelled():
        return True
    return future.done() and isinstance(future.exception(), CancelledError)
