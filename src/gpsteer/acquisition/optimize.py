"""Maximizing an acquisition over a box, a discrete candidate set, and user constraints.

Box: a few hundred space-filling (Sobol) candidates are scored in one batched posterior
call; the best few are polished together by one L-BFGS-B run (SLSQP when there are
constraints) on the sum of their scores, with autograd gradients, in unit-box
coordinates. Candidate sets: every candidate is scored, no polish. The result is never
outside the bounds, always satisfies the constraints, and says when the polish failed
and the best candidate was returned instead.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.optimize import minimize
from scipy.stats import qmc

from gpsteer.errors import ConfigurationError, InputError, NumericalError, ShapeError

__all__ = [
    "Constraint",
    "OptimizationOutcome",
    "OptimizerSettings",
    "check_candidates",
    "constraint_values",
    "maximize",
    "score_candidates",
    "sobol_points",
]

Scorer = Callable[[torch.Tensor], torch.Tensor]
#: ``g(X (m, d) tensor) -> (m,)``; a point is allowed where ``g >= 0``.
Constraint = Callable[[torch.Tensor], torch.Tensor]

_CHUNK = 2048  # candidates scored per posterior call (bounds memory at m x N)


@dataclass(frozen=True)
class OptimizerSettings:
    """How hard to search: candidates scored, starts polished, polish iterations.

    The defaults keep one decision well under a second at N = 1000 on one core; raise
    ``n_candidates`` for more than ~4 dimensions or very local features.
    """

    n_candidates: int = 256
    n_starts: int = 4
    max_iter: int = 50

    def __post_init__(self) -> None:
        if self.n_candidates < 1 or self.n_starts < 0 or self.max_iter < 0:
            raise InputError(
                f"OptimizerSettings needs n_candidates >= 1, n_starts >= 0, max_iter >= 0; got "
                f"{self}."
            )


@dataclass(frozen=True)
class OptimizationOutcome:
    """The maximizer found, its value, and how it was found.

    ``index`` is the row of the candidate set for discrete optimization. ``fallback`` is
    ``True`` when the gradient polish failed and the best candidate was returned;
    ``message`` says why.
    """

    x: np.ndarray
    value: float
    index: int | None = None
    fallback: bool = False
    message: str = ""


def sobol_points(bounds: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` scrambled Sobol points in the box ``bounds`` ``(d, 2)``."""
    sampler = qmc.Sobol(d=bounds.shape[0], scramble=True, seed=rng)
    with warnings.catch_warnings():  # balance warning for n not a power of 2: harmless here
        warnings.simplefilter("ignore", UserWarning)
        unit = sampler.random(n)
    return bounds[:, 0] + unit * (bounds[:, 1] - bounds[:, 0])


def check_candidates(candidates: object, bounds: np.ndarray) -> np.ndarray:
    """Validate a discrete candidate set: ``(N, d)``, finite, non-empty, inside the bounds."""
    try:
        C = np.asarray(candidates, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"candidates must be a numeric (N, d) array: {exc}") from None
    d = bounds.shape[0]
    if C.ndim == 1 and d == 1:
        C = C.reshape(-1, 1)
    if C.ndim != 2 or C.shape[1] != d:
        raise ShapeError(f"candidates must have shape (N, {d}); got {C.shape}.")
    if C.shape[0] == 0:
        raise InputError("The candidate set is empty; give at least one allowed position.")
    if not np.isfinite(C).all():
        raise InputError("candidates contain NaN or inf.")
    outside = np.any((bounds[:, 0] > C) | (bounds[:, 1] < C), axis=1)
    if outside.any():
        raise InputError(
            f"{int(outside.sum())} candidate(s) lie outside the bounds, e.g. "
            f"{C[np.argmax(outside)].tolist()}; remove them or widen the bounds."
        )
    return C


def constraint_values(constraints: Sequence[Constraint], X: torch.Tensor) -> torch.Tensor:
    """``(m, k)`` values of ``k`` constraints at ``X`` ``(m, d)``; feasible where all >= 0."""
    cols = []
    for g in constraints:
        out = torch.as_tensor(g(X), dtype=X.dtype, device=X.device)
        if out.shape != (X.shape[0],):
            raise ShapeError(
                f"Constraint {getattr(g, '__name__', g)!r} must return shape ({X.shape[0]},) for "
                f"{X.shape[0]} points; got {tuple(out.shape)}."
            )
        cols.append(out)
    if not cols:
        return torch.zeros(X.shape[0], 0, dtype=X.dtype, device=X.device)
    return torch.stack(cols, dim=1)


def score_candidates(score: Scorer, C: torch.Tensor) -> torch.Tensor:
    """Scores of all rows of ``C`` without gradients, in chunks; non-finite become ``-inf``."""
    with torch.no_grad():
        vals = torch.cat([score(C[i : i + _CHUNK]).detach() for i in range(0, C.shape[0], _CHUNK)])
    return torch.where(torch.isfinite(vals), vals, torch.full_like(vals, -torch.inf))


def _too_close(X: np.ndarray, exclude: np.ndarray | None, width: np.ndarray, tol: float):
    if exclude is None or len(exclude) == 0:
        return np.zeros(X.shape[0], dtype=bool)
    diff = (X[:, None, :] - exclude[None, :, :]) / width
    return np.sqrt((diff**2).sum(-1)).min(axis=1) < tol


def maximize(
    score: Scorer,
    bounds: np.ndarray,
    candidates: np.ndarray,
    *,
    discrete: bool = False,
    constraints: Sequence[Constraint] = (),
    exclude: np.ndarray | None = None,
    min_distance: float = 1e-3,
    n_starts: int = 4,
    max_iter: int = 50,
    polish_score: Callable[[np.ndarray], Scorer] | None = None,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> OptimizationOutcome:
    """Maximize ``score`` over ``candidates`` (and the box around them unless ``discrete``).

    Parameters
    ----------
    score
        ``X (m, d) -> (m,)``, differentiable (see :meth:`Acquisition.bind`).
    bounds
        ``(d, 2)`` box; the result never leaves it.
    candidates
        ``(N, d)`` points to score: space-filling seeds for a box, or the allowed
        positions when ``discrete``.
    constraints
        Functions ``g(X) -> (m,)``; only points with every ``g >= 0`` are returned.
    exclude, min_distance
        Points to stay away from (chosen or pending) and the distance, relative to the box
        width, below which a point counts as a repeat.
    n_starts, max_iter
        How many of the best candidates are polished, and for how many iterations.
    polish_score
        ``polish_score(starts)``: a cheaper scorer, accurate near the polish's start
        points, for the polish to run on; its end points are scored with ``score``, and
        kept only if better than the best candidate.
    """
    width = bounds[:, 1] - bounds[:, 0]
    C = torch.as_tensor(candidates, dtype=dtype, device=device)
    vals = score_candidates(score, C)
    valid = torch.isfinite(vals).cpu().numpy()
    if constraints:
        g = constraint_values(constraints, C).detach().cpu().numpy()
        feasible = np.all(g >= 0, axis=1)
        if not feasible.any():
            raise ConfigurationError(
                f"No candidate satisfies the constraints (g(x) >= 0) among {len(C)} "
                "candidates; check the signs of the constraint functions, or give candidates "
                "inside the allowed region."
            )
        valid &= feasible
    valid &= ~_too_close(candidates, exclude, width, min_distance)
    if not valid.any():
        raise NumericalError(
            f"The acquisition is not finite at any of {len(C)} allowed candidates (or every "
            "candidate repeats a chosen point); check the acquisition function and the data."
        )
    masked = np.where(valid, vals.cpu().numpy(), -np.inf)
    best = int(np.argmax(masked))
    outcome = OptimizationOutcome(x=candidates[best].copy(), value=float(masked[best]), index=best)
    if discrete or n_starts < 1 or max_iter < 1:
        return outcome
    order = np.argsort(-masked)[: min(n_starts, int(valid.sum()))]
    return _polish(
        score,
        score if polish_score is None else polish_score(candidates[order]),
        bounds,
        candidates[order],
        masked[order],
        outcome,
        constraints,
        exclude,
        min_distance,
        max_iter,
        dtype,
        device,
    )


def _polish(
    score: Scorer,
    polish_score: Scorer,
    bounds: np.ndarray,
    starts: np.ndarray,
    start_values: np.ndarray,
    best: OptimizationOutcome,
    constraints: Sequence[Constraint],
    exclude: np.ndarray | None,
    min_distance: float,
    max_iter: int,
    dtype: torch.dtype,
    device: torch.device | str | None,
) -> OptimizationOutcome:
    """Refine the starts jointly (their scores summed, with ``polish_score``) and keep
    whatever is best and valid by ``score``."""
    k, d = starts.shape
    lo = torch.as_tensor(bounds[:, 0], dtype=dtype, device=device)
    width_np = bounds[:, 1] - bounds[:, 0]
    width = torch.as_tensor(width_np, dtype=dtype, device=device)

    def to_x(z: torch.Tensor) -> torch.Tensor:
        return lo + z.reshape(k, d) * width

    def objective(z: np.ndarray) -> tuple[float, np.ndarray]:
        zt = torch.tensor(z, dtype=dtype, device=device, requires_grad=True)
        v = polish_score(to_x(zt))
        v = torch.where(torch.isfinite(v), v, torch.full_like(v, -1e30).detach())
        total = -v.sum()
        total.backward()
        grad = zt.grad.detach().cpu().numpy()
        return float(total.detach()), np.nan_to_num(grad, nan=0.0, posinf=0.0, neginf=0.0)

    z0 = ((starts - bounds[:, 0]) / width_np).reshape(-1)
    box = [(0.0, 1.0)] * (k * d)
    try:
        if constraints:

            def g(z: np.ndarray) -> np.ndarray:
                with torch.no_grad():
                    zt = torch.as_tensor(z, dtype=dtype, device=device)
                    return constraint_values(constraints, to_x(zt)).cpu().numpy().reshape(-1)

            res = minimize(
                objective,
                z0,
                jac=True,
                method="SLSQP",
                bounds=box,
                constraints=[{"type": "ineq", "fun": g}],
                options={"maxiter": max_iter},
            )
        else:
            res = minimize(
                objective,
                z0,
                jac=True,
                method="L-BFGS-B",
                bounds=box,
                options={"maxiter": max_iter},
            )
        z = np.clip(np.asarray(res.x, dtype=float).reshape(k, d), 0.0, 1.0)
    except (ArithmeticError, RuntimeError, ValueError) as exc:
        return OptimizationOutcome(
            x=best.x,
            value=best.value,
            index=None,
            fallback=True,
            message=f"Gradient polish failed ({type(exc).__name__}: {exc}); returned the best "
            f"of the space-filling candidates.",
        )
    X = np.clip(bounds[:, 0] + z * width_np, bounds[:, 0], bounds[:, 1])
    if constraints:
        X = _pull_back(X, starts, constraints, dtype, device)
    Xt = torch.as_tensor(X, dtype=dtype, device=device)
    vals = score_candidates(score, Xt).cpu().numpy()
    ok = np.isfinite(vals) & ~_too_close(X, exclude, width_np, min_distance)
    if constraints:
        ok &= np.all(constraint_values(constraints, Xt).detach().cpu().numpy() >= 0, axis=1)
    if not ok.any():
        return OptimizationOutcome(
            x=best.x,
            value=best.value,
            index=None,
            fallback=True,
            message="Gradient polish ended at no valid point (non-finite, infeasible or a "
            "repeat); returned the best of the space-filling candidates.",
        )
    vals = np.where(ok, vals, -np.inf)
    i = int(np.argmax(vals))
    if vals[i] <= best.value:
        return OptimizationOutcome(x=best.x, value=best.value, index=None)
    return OptimizationOutcome(x=X[i], value=float(vals[i]), index=None)


def _feasible(
    constraints: Sequence[Constraint], X: np.ndarray, dtype: torch.dtype, device: Any
) -> np.ndarray:
    with torch.no_grad():
        g = constraint_values(constraints, torch.as_tensor(X, dtype=dtype, device=device))
    return np.all(g.cpu().numpy() >= 0, axis=1)


def _pull_back(
    X: np.ndarray,
    starts: np.ndarray,
    constraints: Sequence[Constraint],
    dtype: torch.dtype,
    device: Any,
) -> np.ndarray:
    """Move each infeasible polished point back towards its (feasible) start until feasible.

    SLSQP may stop a hair outside a constraint (g ~ -1e-10); bisection on the segment
    from the start keeps the gain of the polish and makes ``g >= 0`` hold exactly.
    """
    bad = ~_feasible(constraints, X, dtype, device)
    if not bad.any():
        return X
    X = X.copy()
    lo = np.zeros(int(bad.sum()))  # fraction of the way from the start known feasible
    hi = np.ones_like(lo)
    a, b = starts[bad], X[bad]
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        ok = _feasible(constraints, a + mid[:, None] * (b - a), dtype, device)
        lo = np.where(ok, mid, lo)
        hi = np.where(ok, hi, mid)
    X[bad] = a + lo[:, None] * (b - a)
    return X
