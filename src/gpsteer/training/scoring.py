"""Scoring hyperparameters on the data a model holds now: the basis of the acceptance rule.

A training result is only as good as its likelihood on the *current* data, so results
computed on an older snapshot are re-scored before they may replace anything. These
helpers are pure functions of a model and a theta vector, plus a fingerprint that tells
whether a model's data changed since a job's snapshot.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from gpsteer.errors import NumericalError
from gpsteer.gp.model import GaussianProcess
from gpsteer.gp.structure import field_kernels

__all__ = [
    "LOO_TOLERANCE",
    "choose_candidate",
    "data_key",
    "improves",
    "log_likelihood_at",
    "loo_error_at",
    "optimum_weights",
]

#: Relative margin a candidate must beat the current likelihood by (as in ``gp.fit``).
RELATIVE_TOLERANCE = 1e-9
#: A candidate's mean squared leave-one-out error may be at most this many times the
#: current model's (a degenerate, all-noise model on structured data: 20x and more).
LOO_TOLERANCE = 2.0
#: Fewer points than this: the leave-one-out error says too little; likelihood alone.
LOO_MIN_POINTS = 5
#: The check applies when the current model shows structure: its leave-one-out error
#: is below this fraction of the error of predicting every point by the mean.
STRUCTURE_FRACTION = 0.5


def data_key(gp: GaussianProcess) -> str:
    """A fingerprint of what ``gp``'s likelihood depends on besides its hyperparameters.

    Inputs, outputs, measured noise, the output scale (kernel and noise live in units
    of it, and it depends on how the data arrived, not only on the data) and the
    structure field of an edge-aware kernel (re-read from the estimate as data arrive,
    also while a job runs).
    """
    h = hashlib.blake2b(digest_size=16)
    h.update(np.int64(gp.n).tobytes())
    h.update(np.float64(gp.y_scale).tobytes())
    for array in (gp.X, gp.y, gp.noise_variance):
        h.update(b"-" if array is None else np.ascontiguousarray(array, dtype=float).tobytes())
    for kernel in field_kernels(gp.kernel):
        field = kernel.field
        h.update(b"-" if field is None else field.tensors.detach().cpu().numpy().tobytes())
    return h.hexdigest()


def log_likelihood_at(gp: GaussianProcess, theta: np.ndarray) -> float:
    """Log marginal likelihood plus log prior of ``gp``'s data at ``theta`` (``-inf`` if singular).

    The objective training maximises. ``gp``'s own hyperparameters are restored
    afterwards (values, so its cached factor stays valid).
    """
    before = gp.theta.clone()
    try:
        with torch.no_grad():
            gp.set_theta(torch.as_tensor(np.asarray(theta), dtype=gp.dtype, device=gp.device))
            value = float(gp.log_marginal_likelihood(include_prior=True))
    except NumericalError:
        value = float("-inf")
    finally:
        gp.set_theta(before)
    return value if np.isfinite(value) else float("-inf")


def loo_error_at(gp: GaussianProcess, theta: np.ndarray) -> float:
    """Mean squared leave-one-out residual of ``gp``'s data at ``theta`` (``inf`` if singular).

    In units of the output scale, so only comparable between thetas on the same data.
    ``gp``'s own hyperparameters are restored afterwards.
    """
    before = gp.theta.clone()
    try:
        with torch.no_grad():
            gp.set_theta(torch.as_tensor(np.asarray(theta), dtype=gp.dtype, device=gp.device))
            value = float((gp.leave_one_out_residuals() ** 2).mean())
    except NumericalError:
        value = float("inf")
    finally:
        gp.set_theta(before)
    return value if np.isfinite(value) else float("inf")


def _loo_error_of_the_mean(gp: GaussianProcess) -> float:
    """Mean squared leave-one-out error of predicting each point by the mean of the
    others, in units of the output scale: what a model that sees only noise achieves."""
    y = np.asarray(gp.y, dtype=float) / gp.y_scale
    n = y.size
    return float(np.var(y) * (n / (n - 1)) ** 2) if n > 1 else float("inf")


def improves(candidate: float, current: float) -> bool:
    """Whether log likelihood ``candidate`` beats ``current`` by more than the tolerance."""
    if not np.isfinite(candidate):
        return False
    if not np.isfinite(current):
        return True
    return candidate > current + RELATIVE_TOLERANCE * max(1.0, abs(current))


def optimum_weights(log_likelihoods: np.ndarray | list[float]) -> np.ndarray:
    """Weights ~ exp(log likelihood), normalised: a Laplace-free model average over optima."""
    lml = np.asarray(log_likelihoods, dtype=float)
    if lml.size == 0:
        return lml
    finite = np.isfinite(lml)
    if not finite.any():
        return np.full(lml.size, 1.0 / lml.size)
    w = np.where(finite, np.exp(lml - lml[finite].max()), 0.0)
    return w / w.sum()


def choose_candidate(
    gp: GaussianProcess,
    scored: list[tuple[np.ndarray, float]],
    theta_now: np.ndarray,
    current: float,
) -> tuple[tuple[np.ndarray, float] | None, bool, str | None]:
    """Of ``(theta, log likelihood)`` candidates, the one to report, whether it replaces
    ``theta_now`` (log likelihood ``current``), and why not when it was better.

    Candidates that improve the likelihood are tried best first; the first whose
    leave-one-out error is within :data:`LOO_TOLERANCE` of the current model's wins.
    Likelihood alone can prefer a model that explains structured data as noise. The
    check applies only when the current model predicts held-out points clearly better
    than their mean does (:data:`STRUCTURE_FRACTION`): on data without such structure
    (flat, or all noise) there is nothing to lose, and the likelihood decides.
    """
    if not scored:
        return None, False, None
    better = sorted((c for c in scored if improves(c[1], current)), key=lambda c: -c[1])
    if not better:
        return max(scored, key=lambda c: c[1]), False, None
    if gp.n < LOO_MIN_POINTS:
        return better[0], True, None
    loo_now = loo_error_at(gp, theta_now)
    if not loo_now < STRUCTURE_FRACTION * _loo_error_of_the_mean(gp):
        return better[0], True, None  # the current model predicts no structure to lose
    errors = []
    for candidate in better:
        errors.append(loo_error_at(gp, candidate[0]))
        if errors[-1] <= LOO_TOLERANCE * loo_now:
            return candidate, True, None
    reason = (
        f"a candidate with a higher likelihood predicts the data worse (mean squared "
        f"leave-one-out error {errors[0]:.3g} against {loo_now:.3g} now: it explains more "
        "of the data as noise); not accepted"
    )
    return better[0], False, reason
