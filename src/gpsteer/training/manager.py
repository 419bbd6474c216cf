"""The training manager: submits jobs, takes in results, decides what the model keeps.

Acceptance rule: a result is scored on the data the model holds *now* and replaces the
current hyperparameters only if it improves the log likelihood (plus log prior) by
more than a relative 1e-9, and does not predict the data much worse: its mean squared
leave-one-out error may be at most
:data:`~gpsteer.training.scoring.LOO_TOLERANCE` times the current model's.
Why both: a job run on a few flat readings can return a model that explains
everything as noise (output scale at its lower bound); once the data show structure,
the likelihood still prefers such a model to an equally degenerate current one,
while its leave-one-out error shows it predicts nothing. The candidates are the job's
optima (all of them when the data changed since the job: its ranking was on other
data) and the hyperparameters the model started from. When the data did not change
since the job's snapshot the job's own numbers are used (nothing is recomputed);
otherwise each candidate costs one likelihood evaluation (a Cholesky factorisation)
in the caller's thread, and the leave-one-out check one more for a candidate that
passes the likelihood test.

When the data changed while a job ran, the next job is submitted at once on the newest
data, warm started from the best values so far. A job whose worker died is resubmitted
once; if it is lost again, or the cluster cannot run it (it has had no workers for a
while, or its scheduler is gone), the manager trains inline and warns
(:class:`~gpsteer.errors.TrainingWarning`).
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch

from gpsteer.errors import InputError, TrainingError, TrainingWarning
from gpsteer.gp.fit import FitResult, FitStatus, LocalOptimum, deduplicate_optima
from gpsteer.gp.model import GaussianProcess
from gpsteer.training.jobs import (
    JobLostError,
    JobResult,
    JobSpec,
    NoWorkersError,
    make_job,
    run_job,
)
from gpsteer.training.scoring import (
    choose_candidate,
    data_key,
    log_likelihood_at,
    optimum_weights,
)
from gpsteer.training.trainers import Trainer, is_cancelled, make_trainer

__all__ = ["TrainingManager", "TrainingOutcome", "TrainingStatus"]

#: Optima of one job re-scored on changed data (each costs a Cholesky factorisation).
MAX_RESCORED = 4


def _json_float(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


@dataclass(frozen=True)
class TrainingOutcome:
    """What taking in one finished job did to the model.

    Log likelihoods include the log prior and are on the data the model held when the
    job was taken in (``n_points_now``); ``log_likelihood_candidate`` is the best
    candidate re-scored there (the job's optima, and the values the model started
    from; None if there was none).
    """

    accepted: bool
    backend: str
    n_points_job: int
    n_points_now: int
    log_likelihood_before: float
    log_likelihood_after: float
    log_likelihood_candidate: float | None = None
    rescored: bool = False  #: the job ran on older data, its results were re-scored
    resubmitted: bool = False  #: a new job was submitted (data changed, or worker lost)
    fallback: bool = False  #: trained inline because the cluster lost or refused the job
    hyperparameters: dict[str, list[float]] = field(default_factory=dict)
    optima: tuple[LocalOptimum, ...] = ()
    job_seconds: float = 0.0  #: from submission to being taken in
    error: str | None = None
    #: why a candidate with a higher likelihood was not accepted (leave-one-out error)
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (optima as lists; non-finite numbers as None)."""
        d = {k: v for k, v in asdict(self).items() if k != "optima"}
        for k in ("log_likelihood_before", "log_likelihood_after", "log_likelihood_candidate"):
            d[k] = _json_float(d[k])
        d["optima"] = [
            {"theta": o.theta.tolist(), "log_likelihood": _json_float(-o.neg_log_likelihood)}
            for o in self.optima
        ]
        return d


@dataclass(frozen=True)
class TrainingStatus:
    """What is training now and what was last accepted (for provenance records).

    ``since`` and ``last_accepted["time"]`` are Unix times (``time.time()``).
    """

    backend: str
    running: bool  #: a job is computing now
    since: float | None = None  #: submission time of the oldest job not taken in yet
    n_points_in_job: int | None = None  #: data points that job trains on
    result_waiting: bool = False  #: a job finished and waits for the next poll
    n_jobs: int = 0
    n_accepted: int = 0
    n_rejected: int = 0
    n_lost: int = 0  #: jobs lost with their worker (each resubmitted once)
    n_fallbacks: int = 0  #: jobs trained inline after Dask lost or refused them
    last_accepted: dict[str, Any] | None = None
    last_error: str | None = None
    address: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (plain numbers, strings, lists)."""
        return asdict(self)


@dataclass
class _Job:
    future: concurrent.futures.Future[JobResult]
    n_points: int
    data_key: str
    theta0: np.ndarray
    submitted: float  # time.time()
    t0: float  # perf_counter()
    attempt: int = 1


class TrainingManager:
    """Trains one model's hyperparameters asynchronously and keeps the best result.

    Parameters
    ----------
    trainer
        A :class:`~gpsteer.training.trainers.Trainer`, or what
        :func:`~gpsteer.training.trainers.make_trainer` accepts (``"inline"``,
        ``"dask"``, a scheduler address, a ``distributed.Client``).
    n_starts
        Optimizer starts per job: the current values, kept optima, then space-filling.
    max_iter, subset_size, n_polish, polish_iter
        As in :func:`gpsteer.gp.fit_hyperparameters`.
    seed
        Seeds starts and subsets: the sequence of jobs is reproducible.
    keep_optima
        How many distinct optima to keep, with weights ~ exp(log likelihood), for
        averaging an acquisition function over hyperparameters (:attr:`optima`).
    max_in_flight
        Jobs allowed at once (default 1: one per agent).
    min_new_points
        Data growth that makes a finished job resubmit on the newest data.
    num_threads
        Torch threads inside each job (1: parallelism comes from Dask workers).
    close_trainer
        Close the trainer in :meth:`close` (default); False to share one trainer.

    Examples
    --------
    >>> manager = TrainingManager("inline", seed=0)      # doctest: +SKIP
    >>> manager.submit(gp); outcome = manager.poll(gp)   # doctest: +SKIP
    """

    def __init__(
        self,
        trainer: Trainer | str | Any = "inline",
        *,
        n_starts: int = 4,
        max_iter: int = 200,
        subset_size: int = 500,
        n_polish: int = 2,
        polish_iter: int = 40,
        seed: int | None = None,
        keep_optima: int = 1,
        max_in_flight: int = 1,
        min_new_points: int = 1,
        num_threads: int | None = 1,
        close_trainer: bool = True,
    ) -> None:
        for name, value in (
            ("n_starts", n_starts),
            ("max_iter", max_iter),
            ("subset_size", subset_size),
            ("polish_iter", polish_iter),
            ("keep_optima", keep_optima),
            ("max_in_flight", max_in_flight),
            ("min_new_points", min_new_points),
        ):
            if int(value) != value or value < 1:
                raise InputError(f"{name} must be an integer >= 1; got {value!r}.")
        if n_polish < 0:
            raise InputError(f"n_polish must be >= 0; got {n_polish}.")
        self.trainer = make_trainer(trainer)
        self.n_starts, self.max_iter, self.subset_size = n_starts, max_iter, subset_size
        self.n_polish, self.polish_iter, self.num_threads = n_polish, polish_iter, num_threads
        self.keep_optima, self.max_in_flight = keep_optima, max_in_flight
        self.min_new_points = min_new_points
        self._close_trainer = close_trainer
        self._rng = np.random.default_rng(seed)
        self._lock = threading.RLock()
        self._jobs: list[_Job] = []
        self._closed = False
        self._inline_only = False  # the trainer could not run jobs: train inline from now on
        self._memo: dict[bytes, float] = {}
        self._memo_key: str | None = None
        self._optima: list[tuple[np.ndarray, float]] = []
        self._counts = dict.fromkeys(("jobs", "accepted", "rejected", "lost", "fallbacks"), 0)
        self._last_accepted: dict[str, Any] | None = None
        self._last_error: str | None = None
        self._start_theta: np.ndarray | None = None  # the model's values before any training

    # ------------------------------------------------------------------ submitting
    def _spec(self, gp: GaussianProcess) -> JobSpec:
        return make_job(
            gp,
            self._rng,
            n_starts=self.n_starts,
            warm_starts=[theta for theta, _ in self._optima],
            max_iter=self.max_iter,
            subset_size=self.subset_size,
            n_polish=self.n_polish,
            polish_iter=self.polish_iter,
            num_threads=self.num_threads,
        )

    def submit(self, gp: GaussianProcess) -> bool:
        """Snapshot ``gp`` (data and hyperparameters) and start a job; return at once.

        Returns False, submitting nothing, when ``max_in_flight`` jobs are running.
        (An :class:`InlineTrainer` runs the job inside this call.)
        """
        with self._lock:
            if self._closed:
                raise TrainingError("This TrainingManager is closed; create a new one.")
            if len(self._jobs) >= self.max_in_flight:
                return False
            self._submit(gp, attempt=1)
            return True

    def _remember_start(self, gp: GaussianProcess) -> None:
        if self._start_theta is None:
            self._start_theta = gp.theta.detach().cpu().numpy().copy()

    def _submit(self, gp: GaussianProcess, attempt: int) -> None:
        self._remember_start(gp)
        spec = self._spec(gp)
        job = _Job(
            future=concurrent.futures.Future(),
            n_points=spec.n_points,
            data_key=data_key(gp),
            theta0=spec.theta0,
            submitted=time.time(),
            t0=time.perf_counter(),
            attempt=attempt,
        )
        trainer = self.trainer if not self._inline_only else None
        job.future = trainer.submit(spec) if trainer is not None else _inline_future(spec)
        self._jobs.append(job)
        self._counts["jobs"] += 1

    # ------------------------------------------------------------------ taking results in
    def poll(self, gp: GaussianProcess) -> TrainingOutcome | None:
        """Take in finished jobs without waiting; None if none finished.

        A result is re-scored on ``gp``'s current data and set only if it improves the
        likelihood; if the data changed since the job started a new job is submitted
        on the newest data. With several finished jobs the last outcome is returned.
        """
        with self._lock:
            if self._closed:
                return None
            done = [job for job in self._jobs if job.future.done()]
            if not done:
                if self._jobs:
                    self.trainer.check()
                return None
            self._jobs = [job for job in self._jobs if job not in done]
            outcome = None
            for job in done:
                outcome = self._take(gp, job) or outcome
            return outcome

    def _take(self, gp: GaussianProcess, job: _Job) -> TrainingOutcome | None:
        if is_cancelled(job.future):
            return None
        exc = job.future.exception()
        if exc is None:
            outcome = self._decide(gp, job, job.future.result())
            return replace(outcome, resubmitted=self._resubmit_if_stale(gp, job))
        self._last_error = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, NoWorkersError):  # resubmitting would wait for nothing again
            self._counts["lost"] += 1
            warnings.warn(f"{exc} Training inline meanwhile.", TrainingWarning, stacklevel=4)
            return self._fallback(gp, job)
        if isinstance(exc, JobLostError):
            self._counts["lost"] += 1
            if job.attempt < 2:
                self._submit(gp, attempt=job.attempt + 1)
                return self._unchanged(gp, job, resubmitted=True)
            warnings.warn(
                f"{exc} It was lost twice; training inline instead.",
                TrainingWarning,
                stacklevel=4,
            )
            return self._fallback(gp, job)
        if isinstance(exc, TrainingError):  # the trainer cannot run jobs at all
            self._inline_only = True
            warnings.warn(f"{exc} Training inline from now on.", TrainingWarning, stacklevel=4)
            return self._fallback(gp, job)
        warnings.warn(
            f"A training job failed ({self._last_error}); hyperparameters unchanged.",
            TrainingWarning,
            stacklevel=4,
        )
        return self._unchanged(gp, job)

    def _fallback(self, gp: GaussianProcess, job: _Job) -> TrainingOutcome:
        self._counts["fallbacks"] += 1
        spec = self._spec(gp)
        inline = _Job(
            future=_inline_future(spec),
            n_points=spec.n_points,
            data_key=data_key(gp),
            theta0=spec.theta0,
            submitted=job.submitted,
            t0=job.t0,
            attempt=job.attempt + 1,
        )
        self._counts["jobs"] += 1
        if inline.future.exception() is not None:
            return self._unchanged(gp, inline, error=str(inline.future.exception()))
        outcome = self._decide(gp, inline, inline.future.result(), backend="inline")
        return replace(outcome, fallback=True)

    def _score(self, gp: GaussianProcess, theta: np.ndarray) -> float:
        key = theta.tobytes()
        if key not in self._memo:
            self._memo[key] = log_likelihood_at(gp, theta)
        return self._memo[key]

    def _decide(
        self, gp: GaussianProcess, job: _Job, result: JobResult, backend: str | None = None
    ) -> TrainingOutcome:
        backend = backend or self.backend
        key_now = data_key(gp)
        if key_now != self._memo_key:
            self._memo, self._memo_key = {}, key_now
        theta_now = gp.theta.cpu().numpy().copy()
        if job.theta0.shape != theta_now.shape:
            msg = (
                f"The model's hyperparameters changed shape since the job started "
                f"({job.theta0.size} -> {theta_now.size}); its result was discarded."
            )
            warnings.warn(msg, TrainingWarning, stacklevel=5)
            return self._unchanged(gp, job, error=msg)
        same_data = job.data_key == key_now
        if same_data:  # the job's own numbers hold: nothing to recompute
            self._memo.setdefault(job.theta0.tobytes(), -result.neg_log_likelihood_start)
            for o in result.optima:
                self._memo.setdefault(o.theta.tobytes(), -o.neg_log_likelihood)
        current = self._score(gp, theta_now)
        pool = result.optima[: self.keep_optima] if same_data else result.optima[:MAX_RESCORED]
        scored = [(o.theta, self._score(gp, o.theta)) for o in pool]
        start = self._start_theta
        if start is not None and start.shape == theta_now.shape:
            scored.append((start, self._score(gp, start)))
        best, accepted, reason = choose_candidate(gp, scored, theta_now, current)
        if accepted:
            gp.set_theta(torch.as_tensor(best[0], dtype=gp.dtype, device=gp.device))
            self._counts["accepted"] += 1
            self._last_accepted = {
                "hyperparameters": gp.hyperparameters(),
                "log_likelihood": _json_float(best[1]),
                "n_points": gp.n,
                "n_points_job": job.n_points,
                "time": time.time(),
                "backend": backend,
            }
        else:
            self._counts["rejected"] += 1
        self._keep(gp, [*scored, (theta_now, current)])
        return TrainingOutcome(
            accepted=accepted,
            backend=backend,
            n_points_job=job.n_points,
            n_points_now=gp.n,
            log_likelihood_before=current,
            log_likelihood_after=best[1] if accepted else current,
            log_likelihood_candidate=best[1] if best is not None else None,
            rescored=not same_data,
            hyperparameters=gp.hyperparameters(),
            optima=result.optima,
            job_seconds=time.perf_counter() - job.t0,
            reason=reason,
        )

    def _keep(self, gp: GaussianProcess, scored: list[tuple[np.ndarray, float]]) -> None:
        pool = [
            LocalOptimum(theta=t, neg_log_likelihood=-v, converged=True, n_iterations=0)
            for t, v in scored
            if np.isfinite(v)
        ]
        kept = deduplicate_optima(pool, gp.theta_bounds())[: self.keep_optima]
        weights = optimum_weights([-o.neg_log_likelihood for o in kept])
        self._optima = [(o.theta.copy(), float(w)) for o, w in zip(kept, weights, strict=True)]

    def _resubmit_if_stale(self, gp: GaussianProcess, job: _Job) -> bool:
        if self._closed or len(self._jobs) >= self.max_in_flight:
            return False
        grown = gp.n - job.n_points
        if data_key(gp) == job.data_key or 0 < grown < self.min_new_points:
            return False
        self._submit(gp, attempt=1)
        return True

    def _unchanged(
        self, gp: GaussianProcess, job: _Job, *, resubmitted: bool = False, error: str | None = None
    ) -> TrainingOutcome:
        return TrainingOutcome(
            accepted=False,
            backend=self.backend,
            n_points_job=job.n_points,
            n_points_now=gp.n,
            log_likelihood_before=float("nan"),
            log_likelihood_after=float("nan"),
            resubmitted=resubmitted,
            hyperparameters=gp.hyperparameters(),
            job_seconds=time.perf_counter() - job.t0,
            error=error or self._last_error,
        )

    # ------------------------------------------------------------------ synchronous
    def train_now(self, gp: GaussianProcess) -> FitResult:
        """Train inline, now, with the same starts and acceptance rule; running jobs go on."""
        with self._lock:
            if self._closed:
                raise TrainingError("This TrainingManager is closed; create a new one.")
            t0 = time.perf_counter()
            self._remember_start(gp)
            spec = self._spec(gp)
            result = run_job(spec)
            job = _Job(
                future=concurrent.futures.Future(),
                n_points=spec.n_points,
                data_key=data_key(gp),
                theta0=spec.theta0,
                submitted=time.time(),
                t0=t0,
            )
            self._counts["jobs"] += 1
            outcome = self._decide(gp, job, result, backend="inline")
            if outcome.accepted:
                status = FitStatus.IMPROVED
            elif result.optima or np.isfinite(outcome.log_likelihood_before):
                status = FitStatus.UNCHANGED
            else:
                status = FitStatus.FAILED
            return FitResult(
                status=status,
                hyperparameters=outcome.hyperparameters,
                log_likelihood_before=outcome.log_likelihood_before,
                log_likelihood_after=outcome.log_likelihood_after,
                optima=result.optima,
                n_points=gp.n,
                n_evaluations=result.n_evaluations,
                wall_time_s=time.perf_counter() - t0,
            )

    # ------------------------------------------------------------------ introspection
    @property
    def backend(self) -> str:
        """``"inline"`` or ``"dask"``: where the next job runs."""
        return "inline" if self._inline_only else self.trainer.backend

    @property
    def future(self) -> concurrent.futures.Future[JobResult] | None:
        """The newest in-flight job's future (a ``concurrent.futures.Future``), or None."""
        with self._lock:
            return self._jobs[-1].future if self._jobs else None

    @property
    def optima(self) -> list[tuple[np.ndarray, float]]:
        """Kept distinct optima ``(theta, weight)``, best first; weights sum to 1.

        Empty before the first job is taken in (the model's own theta is then all
        there is).
        """
        return [(theta.copy(), w) for theta, w in self._optima]

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every in-flight job finished (for scripts and tests); True if so."""
        with self._lock:
            futures = [job.future for job in self._jobs]
        _, not_done = concurrent.futures.wait(futures, timeout=timeout)
        return not not_done

    def status(self) -> TrainingStatus:
        """What is training now, and what was last accepted."""
        with self._lock:
            first = self._jobs[0] if self._jobs else None  # oldest job not taken in yet
            return TrainingStatus(
                backend=self.backend,
                running=any(not job.future.done() for job in self._jobs),
                since=first.submitted if first else None,
                n_points_in_job=first.n_points if first else None,
                result_waiting=any(job.future.done() for job in self._jobs),
                n_jobs=self._counts["jobs"],
                n_accepted=self._counts["accepted"],
                n_rejected=self._counts["rejected"],
                n_lost=self._counts["lost"],
                n_fallbacks=self._counts["fallbacks"],
                last_accepted=None if self._last_accepted is None else dict(self._last_accepted),
                last_error=self._last_error,
                address=self.trainer.address if not self._inline_only else None,
            )

    # ------------------------------------------------------------------ closing
    def cancel(self) -> int:
        """Cancel the jobs in flight (their results are dropped); the manager stays usable.

        Returns how many jobs were cancelled.
        """
        with self._lock:
            jobs, self._jobs = self._jobs, []
        for job in jobs:
            self.trainer.cancel(job.future)
        return len(jobs)

    def close(self) -> None:
        """Cancel jobs in flight and (unless ``close_trainer=False``) close the trainer."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            jobs, self._jobs = self._jobs, []
        for job in jobs:
            self.trainer.cancel(job.future)
        if self._close_trainer:
            self.trainer.close()

    def __enter__(self) -> TrainingManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        s = self.status()
        return (
            f"TrainingManager({self.trainer!r}, running={s.running}, jobs={s.n_jobs}, "
            f"accepted={s.n_accepted})"
        )


def _inline_future(spec: JobSpec) -> concurrent.futures.Future[JobResult]:
    from gpsteer.training.trainers import InlineTrainer

    return InlineTrainer().submit(spec)
