"""Synchronous hyperparameter training: multi-start L-BFGS-B on the negative log likelihood.

Gradients come from autograd. Starts are the current values (a warm start) plus
space-filling (Latin hypercube) points over each hyperparameter's range of typical values. For
large data sets the starts run on a random subset, the best optimum is polished on a
larger subset and scored on all the data: the basins are found cheaply.
A result replaces the current hyperparameters only if it improves the likelihood.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from scipy.optimize import minimize
from scipy.stats import qmc

from gpsteer.errors import InputError, NumericalError
from gpsteer.gp.model import GaussianProcess
from gpsteer.gp.threads import limit_threads

#: Former name of :func:`gpsteer.gp.threads.limit_threads`, kept for callers.
torch_threads = limit_threads

__all__ = [
    "FitResult",
    "FitStatus",
    "LocalOptimum",
    "deduplicate_optima",
    "fit_hyperparameters",
    "minimize_from",
    "negative_log_likelihood",
    "torch_threads",
]

_FAILED = 1e25  # objective value for hyperparameters whose matrix cannot be factored


class FitStatus(enum.Enum):
    """What training did to the model's hyperparameters."""

    IMPROVED = "improved"  #: new hyperparameters accepted
    UNCHANGED = "unchanged"  #: nothing better than the current values was found
    FAILED = "failed"  #: no start could be evaluated


@dataclass(frozen=True)
class LocalOptimum:
    """One local optimum of the negative log marginal likelihood (plus log prior)."""

    theta: np.ndarray
    neg_log_likelihood: float
    converged: bool
    n_iterations: int
    message: str = ""


@dataclass(frozen=True)
class FitResult:
    """Outcome of :func:`fit_hyperparameters`: status, before/after, the optima found."""

    status: FitStatus
    hyperparameters: dict[str, list[float]]
    log_likelihood_before: float
    log_likelihood_after: float
    optima: tuple[LocalOptimum, ...] = field(default=())
    n_points: int = 0
    n_evaluations: int = 0
    wall_time_s: float = 0.0

    @property
    def accepted(self) -> bool:
        return self.status is FitStatus.IMPROVED


def negative_log_likelihood(gp: GaussianProcess, theta: np.ndarray) -> tuple[float, np.ndarray]:
    """Objective and gradient at ``theta`` (numpy), via autograd. Leaves ``gp`` at ``theta``."""
    t = torch.tensor(theta, dtype=gp.dtype, device=gp.device, requires_grad=True)
    gp.set_theta(t)
    try:
        value = -gp.log_marginal_likelihood(include_prior=True)
        if value.requires_grad:  # False when every hyperparameter is fixed
            value.backward()
    except NumericalError:
        return _FAILED, np.zeros_like(theta)
    finally:
        gp.set_theta(t.detach())
    grad = t.grad.detach().cpu().numpy() if t.grad is not None else np.zeros_like(theta)
    v = float(value.detach())
    if not np.isfinite(v) or not np.all(np.isfinite(grad)):
        return _FAILED, np.zeros_like(theta)
    return v, grad


def minimize_from(
    gp: GaussianProcess, starts: np.ndarray, *, max_iter: int = 200
) -> tuple[list[LocalOptimum], int]:
    """Run L-BFGS-B from each row of ``starts`` ``(k, p)``; return optima and evaluation count."""
    bounds = gp.theta_bounds()
    evaluations = 0
    optima: list[LocalOptimum] = []
    for x0 in np.atleast_2d(starts):
        x0 = np.clip(x0, bounds[:, 0], bounds[:, 1])
        res = minimize(
            lambda th: negative_log_likelihood(gp, th),
            x0,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": max_iter},
        )
        evaluations += int(res.nfev)
        if res.fun < _FAILED:
            optima.append(
                LocalOptimum(
                    theta=np.asarray(res.x, dtype=float),
                    neg_log_likelihood=float(res.fun),
                    converged=bool(res.success),
                    n_iterations=int(res.nit),
                    message=str(res.message),
                )
            )
    return sorted(optima, key=lambda o: o.neg_log_likelihood), evaluations


def deduplicate_optima(
    optima: list[LocalOptimum], bounds: np.ndarray, *, tol: float = 0.05
) -> list[LocalOptimum]:
    """Keep the best of optima closer than ``tol`` (relative to the bounds' width) in theta."""
    width = np.maximum(bounds[:, 1] - bounds[:, 0], 1e-12)
    kept: list[LocalOptimum] = []
    for opt in sorted(optima, key=lambda o: o.neg_log_likelihood):
        if all(np.max(np.abs(opt.theta - k.theta) / width) > tol for k in kept):
            kept.append(opt)
    return kept


def _starting_points(gp: GaussianProcess, n_random: int, rng: np.random.Generator) -> np.ndarray:
    current = gp.theta.cpu().numpy()[None, :]
    if n_random <= 0 or current.shape[1] == 0:
        return current
    box = gp.theta_bounds(start=True)
    unit = qmc.LatinHypercube(d=box.shape[0], seed=rng).random(n_random)
    return np.vstack([current, box[:, 0] + unit * (box[:, 1] - box[:, 0])])


def fit_hyperparameters(
    gp: GaussianProcess,
    *,
    n_starts: int = 4,
    max_iter: int = 200,
    subset_size: int = 300,
    n_polish: int = 1,
    polish_iter: int = 12,
    polish_size: int | None = 600,
    seed: int | None = None,
    num_threads: int | None = 1,
) -> FitResult:
    """Train ``gp``'s hyperparameters in place and return what happened.

    Parameters
    ----------
    n_starts
        Number of optimizer starts including the warm start from the current values.
    max_iter
        L-BFGS-B iterations per start.
    subset_size
        Above this many points, starts run on a random subset of this size and the best
        ``n_polish`` distinct optima are then refined for ``polish_iter`` iterations on a
        larger random subset of ``polish_size`` points (all points when ``None`` or
        fewer), then scored on all the data. Measured at N = 2000: the same held-out
        error as polishing on all points, at a fraction of the time.
    seed
        Seeds the space-filling starts and the subset, for reproducible training.
    num_threads
        Torch threads while training (default 1; parallelism comes from running starts on
        several Dask workers). ``None`` keeps the process setting.
    """
    with limit_threads(num_threads):
        return _fit(gp, n_starts, max_iter, subset_size, n_polish, polish_iter, polish_size, seed)


def _fit(
    gp: GaussianProcess,
    n_starts: int,
    max_iter: int,
    subset_size: int,
    n_polish: int,
    polish_iter: int,
    polish_size: int | None,
    seed: int | None,
) -> FitResult:
    if n_starts < 1:
        raise InputError(f"n_starts must be >= 1; got {n_starts}.")
    if max_iter < 1:
        raise InputError(f"max_iter must be >= 1; got {max_iter}.")
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    theta0 = gp.theta.cpu().numpy()
    bounds = gp.theta_bounds()
    before, _ = negative_log_likelihood(gp, theta0)
    evaluations = 1
    starts = _starting_points(gp, n_starts - 1, rng)
    if theta0.size == 0:
        optima: list[LocalOptimum] = []
    elif gp.n > subset_size:
        order = rng.permutation(gp.n)  # nested subsets: the polish set contains the first
        coarse, ev = minimize_from(gp.subset(order[:subset_size]), starts, max_iter=max_iter)
        evaluations += ev
        seeds = np.array([o.theta for o in deduplicate_optima(coarse, bounds)[:n_polish]])
        if polish_size is None or gp.n <= polish_size:
            optima, ev = minimize_from(gp, seeds, max_iter=polish_iter)
        else:
            refined, ev = minimize_from(gp.subset(order[:polish_size]), seeds, max_iter=polish_iter)
            optima = [
                replace(o, neg_log_likelihood=negative_log_likelihood(gp, o.theta)[0])
                for o in refined
            ]
            ev += len(refined)
        evaluations += ev
    else:
        optima, ev = minimize_from(gp, starts, max_iter=max_iter)
        evaluations += ev
    optima = deduplicate_optima(optima, bounds)
    best = optima[0] if optima else None
    if best is not None and best.neg_log_likelihood < before - 1e-9 * max(1.0, abs(before)):
        gp.set_theta(torch.as_tensor(best.theta, dtype=gp.dtype, device=gp.device))
        status, after = FitStatus.IMPROVED, best.neg_log_likelihood
    else:
        gp.set_theta(torch.as_tensor(theta0, dtype=gp.dtype, device=gp.device))
        status = FitStatus.UNCHANGED if (optima or before < _FAILED) else FitStatus.FAILED
        after = before
    return FitResult(
        status=status,
        hyperparameters=gp.hyperparameters(),
        log_likelihood_before=-before,
        log_likelihood_after=-after,
        optima=tuple(optima),
        n_points=gp.n,
        n_evaluations=evaluations,
        wall_time_s=time.perf_counter() - t0,
    )
