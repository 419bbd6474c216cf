"""Training jobs: what is shipped to a worker, the steps that run there, what comes back.

A job is a multi-start search for the distinct local optima of the negative log
marginal likelihood (plus log prior), HGDL's idea: every start runs as its own step,
so a Dask cluster spreads them over its workers; the same steps run one after the
other in process for the inline trainer, so both give the same answer for the same
seed. For large data sets starts run on a random subset and the best few optima are
polished on all the data (as :func:`gpsteer.gp.fit_hyperparameters` does).

What travels: a :class:`JobSpec` holding a deep copy of the model (data snapshot and
hyperparameters at submission, without the cached Cholesky factor) pickled by
cloudpickle; what comes back is a :class:`JobResult` of theta vectors and numbers.
The module imports neither Dask nor anything above the GP layer, so workers need only
``gpsteer.gp``.
"""

from __future__ import annotations

import contextlib
import copy
import os
import sys
import threading
import time
from dataclasses import dataclass

import numpy as np
from scipy.stats import qmc

from gpsteer.errors import InputError, TrainingError
from gpsteer.gp.fit import LocalOptimum, deduplicate_optima, minimize_from, torch_threads
from gpsteer.gp.model import GaussianProcess
from gpsteer.training.scoring import log_likelihood_at

__all__ = [
    "JobLostError",
    "JobResult",
    "JobSpec",
    "NoWorkersError",
    "StepResult",
    "coarse_step",
    "lower_priority",
    "make_job",
    "merge_step",
    "polish_step",
    "run_job",
    "snapshot_model",
]


class JobLostError(TrainingError):
    """A job's worker died (or its connection broke) before the job finished.

    Why its own class: the manager resubmits such a job once and then trains inline,
    whereas an error raised by the training code itself is not retried.
    """


class NoWorkersError(JobLostError):
    """The cluster has had no workers for longer than the trainer waits: nothing can run.

    Why its own class: resubmitting would wait again for workers that are not there; the
    manager trains such a job inline at once, and says so.
    """


@dataclass(frozen=True)
class JobSpec:
    """Everything a worker needs for one training job.

    Attributes
    ----------
    gp
        Deep copy of the model at submission: data and hyperparameters.
    theta0
        ``(p,)`` the model's trainable hyperparameters at submission (the warm start).
    starts
        ``(k, p)`` starting points; row 0 is ``theta0``, then other warm starts (optima
        kept from earlier jobs), then space-filling points.
    subset
        Indices of the points the starts run on when the data set is large, else None.
    """

    gp: GaussianProcess
    theta0: np.ndarray
    starts: np.ndarray
    subset: np.ndarray | None
    max_iter: int = 200
    n_polish: int = 2
    polish_iter: int = 40
    num_threads: int | None = 1
    niceness: int = 0  #: raise the executing thread's nice value to this (Linux; 0: leave)

    @property
    def n_points(self) -> int:
        return self.gp.n

    @property
    def n_starts(self) -> int:
        return int(self.starts.shape[0])


@dataclass(frozen=True)
class StepResult:
    """Optima found by one step, with its cost (small: travels back from a worker)."""

    optima: tuple[LocalOptimum, ...]
    n_evaluations: int
    seconds: float
    on_subset: bool = False  #: optima are on the subset: seeds for polishing, not results


@dataclass(frozen=True)
class JobResult:
    """What a finished job returns: the distinct optima on the job's data, best first.

    ``neg_log_likelihood_start`` is the objective at ``theta0`` on the same data, so a
    caller whose data did not change can compare without recomputing anything.
    """

    optima: tuple[LocalOptimum, ...]
    neg_log_likelihood_start: float
    n_points: int
    n_evaluations: int = 0
    compute_seconds: float = 0.0
    n_steps: int = 0


def snapshot_model(gp: GaussianProcess) -> GaussianProcess:
    """A deep copy of ``gp`` without its cached factor (an N x N matrix nobody needs)."""
    shallow = copy.copy(gp)
    shallow.refactor()  # drops the cache on the copy only
    return copy.deepcopy(shallow)


def make_job(
    gp: GaussianProcess,
    rng: np.random.Generator,
    *,
    n_starts: int = 4,
    warm_starts: list[np.ndarray] | tuple[np.ndarray, ...] = (),
    max_iter: int = 200,
    subset_size: int = 500,
    n_polish: int = 2,
    polish_iter: int = 40,
    num_threads: int | None = 1,
) -> JobSpec:
    """Snapshot ``gp`` and choose the starts (and subset) of a job.

    Starts: the current hyperparameters, then ``warm_starts`` (e.g. optima kept from
    earlier jobs), then Latin-hypercube points over each hyperparameter's range of
    typical values, ``n_starts`` in all (never fewer than the warm starts).
    """
    if n_starts < 1:
        raise InputError(f"n_starts must be >= 1; got {n_starts}.")
    snapshot = snapshot_model(gp)
    theta0 = snapshot.theta.cpu().numpy().copy()
    rows = [theta0]
    for w in warm_starts:
        w = np.asarray(w, dtype=float)
        if w.shape == theta0.shape and not any(np.array_equal(w, r) for r in rows):
            rows.append(w)
    n_random = max(0, n_starts - len(rows))
    if n_random and theta0.size:
        box = snapshot.theta_bounds(start=True)
        unit = qmc.LatinHypercube(d=box.shape[0], seed=rng).random(n_random)
        rows.extend(box[:, 0] + unit * (box[:, 1] - box[:, 0]))
    subset = None
    if snapshot.n > subset_size:
        subset = rng.choice(snapshot.n, size=subset_size, replace=False)
    return JobSpec(
        gp=snapshot,
        theta0=theta0,
        starts=np.vstack(rows).reshape(len(rows), theta0.size),
        subset=subset,
        max_iter=max_iter,
        n_polish=n_polish,
        polish_iter=polish_iter,
        num_threads=num_threads,
    )


def lower_priority(niceness: int) -> None:
    """Make the calling thread yield the CPU to others (training is background work).

    On Linux a nice value belongs to a thread, so this touches only the worker thread
    running the step, never the caller of an inline job (whose specs carry 0). It only
    ever raises the value, which needs no privileges.
    """
    if niceness <= 0 or not sys.platform.startswith("linux"):
        return
    tid = threading.get_native_id()
    with contextlib.suppress(OSError):  # not permitted here: run at the current priority
        if os.getpriority(os.PRIO_PROCESS, tid) < niceness:
            os.setpriority(os.PRIO_PROCESS, tid, niceness)


def _private_model(spec: JobSpec, subset: bool) -> GaussianProcess:
    # Steps move the model's hyperparameters; a private copy keeps concurrent steps
    # (threads of one worker, or the inline path) from seeing each other's values.
    gp = copy.deepcopy(spec.gp)
    return gp.subset(spec.subset) if subset and spec.subset is not None else gp


def coarse_step(spec: JobSpec, rows: list[int]) -> StepResult:
    """L-BFGS-B from ``spec.starts[rows]``, on the subset when there is one."""
    t0 = time.perf_counter()
    if spec.theta0.size == 0:
        return StepResult((), 0, 0.0)
    lower_priority(spec.niceness)
    with torch_threads(spec.num_threads):
        gp = _private_model(spec, subset=True)
        optima, n_eval = minimize_from(gp, spec.starts[rows], max_iter=spec.max_iter)
    seconds = time.perf_counter() - t0
    return StepResult(tuple(optima), n_eval, seconds, on_subset=spec.subset is not None)


def polish_seeds(spec: JobSpec, coarse: tuple[StepResult, ...]) -> list[np.ndarray]:
    """The best ``n_polish`` distinct coarse optima, then ``theta0`` (always polished)."""
    found = [o for r in coarse for o in r.optima]
    bounds = spec.gp.theta_bounds()
    best = [o.theta for o in deduplicate_optima(found, bounds)[: spec.n_polish]]
    return [*best, spec.theta0]


def polish_step(spec: JobSpec, index: int, *coarse: StepResult) -> StepResult:
    """Refine seed ``index`` of :func:`polish_seeds` on all the job's data."""
    t0 = time.perf_counter()
    seeds = polish_seeds(spec, coarse)
    if index >= len(seeds) or spec.theta0.size == 0:
        return StepResult((), 0, 0.0)
    lower_priority(spec.niceness)
    with torch_threads(spec.num_threads):
        gp = _private_model(spec, subset=False)
        optima, n_eval = minimize_from(gp, seeds[index][None, :], max_iter=spec.polish_iter)
    return StepResult(tuple(optima), n_eval, time.perf_counter() - t0)


def merge_step(spec: JobSpec, *steps: StepResult) -> JobResult:
    """Deduplicate and rank the optima found on all the data; score ``theta0`` for comparison.

    ``steps`` may include subset steps: they count towards the cost, not the optima.
    """
    t0 = time.perf_counter()
    lower_priority(spec.niceness)
    with torch_threads(spec.num_threads):
        gp = _private_model(spec, subset=False)
        start = -log_likelihood_at(gp, spec.theta0) if spec.theta0.size else float("inf")
    found = [o for s in steps if not s.on_subset for o in s.optima]
    optima = deduplicate_optima(found, spec.gp.theta_bounds()) if found else []
    return JobResult(
        optima=tuple(optima),
        neg_log_likelihood_start=start,
        n_points=spec.n_points,
        n_evaluations=sum(s.n_evaluations for s in steps) + 1,
        compute_seconds=sum(s.seconds for s in steps) + time.perf_counter() - t0,
        n_steps=len(steps) + 1,
    )


def run_job(spec: JobSpec) -> JobResult:
    """All steps of a job, one after the other, in this process (the inline path)."""
    coarse = [coarse_step(spec, [i]) for i in range(spec.n_starts)]
    if spec.subset is None:
        return merge_step(spec, *coarse)
    polished = [polish_step(spec, i, *coarse) for i in range(spec.n_polish + 1)]
    return merge_step(spec, *coarse, *polished)
