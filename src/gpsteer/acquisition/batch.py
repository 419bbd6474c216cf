"""Choosing a batch of points jointly.

Greedy: pick the best point, condition the model on it (the posterior mean as a
fantasy measurement: exact for the variance, the "kriging believer" for acquisitions
that use the mean), pick the next. Points still pending (suggested, not yet
measured) are conditioned on first. For ``mutual_information`` the greedy gains add up to
the batch's joint information, and the batch is then polished jointly on the log
determinant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.optimize import minimize

from gpsteer.acquisition.base import ExplainedScorer
from gpsteer.acquisition.functions import (
    Acquisition,
    AcquisitionContext,
    joint_information,
    measurement_noise,
)
from gpsteer.acquisition.motion import MotionCost, weigh_by_time
from gpsteer.acquisition.optimize import (
    Constraint,
    constraint_values,
    maximize,
    score_candidates,
)
from gpsteer.errors import InputError
from gpsteer.gp.model import GaussianProcess

__all__ = ["BatchSelection", "select_batch"]


@dataclass(frozen=True)
class BatchSelection:
    """Points chosen, in the order chosen, with their (conditional) acquisition values.

    ``values[k]`` is the acquisition at point ``k`` given the points before it (without
    the motion-cost weighting). ``fallback``/``messages`` report optimizer failures.
    """

    points: np.ndarray
    values: np.ndarray
    fallback: bool
    messages: tuple[str, ...]
    #: per point, why it was chosen and the acquisition's terms there (empty when the
    #: acquisition does not say: only ``map`` does)
    terms: tuple[dict[str, Any], ...] = ()


def select_batch(
    acquisition: Acquisition,
    gp: GaussianProcess,
    n: int,
    *,
    bounds: np.ndarray,
    candidates: np.ndarray,
    discrete: bool = False,
    context: AcquisitionContext | None = None,
    constraints: Sequence[Constraint] = (),
    pending: np.ndarray | None = None,
    motion: MotionCost | None = None,
    position: np.ndarray | None = None,
    n_starts: int = 4,
    max_iter: int = 50,
) -> BatchSelection:
    """Choose ``n`` distinct points maximizing ``acquisition`` (see the module docstring).

    ``candidates`` are the space-filling seeds (box) or the allowed positions
    (``discrete=True``). With ``motion`` and ``position``, each point is scored per
    second of travel from the previous one.
    """
    if n < 1:
        raise InputError(f"A batch needs n >= 1 points; got {n}.")
    context = context or AcquisitionContext()
    model = gp
    exclude = np.empty((0, bounds.shape[0]))
    if pending is not None and len(pending):
        model = _fantasize(gp, pending)
        exclude = np.asarray(pending, dtype=float)
    chosen: list[np.ndarray] = []
    values: list[float] = []
    terms: list[dict[str, Any]] = []
    messages: list[str] = []
    fallback = False
    min_distance = 1e-9 if discrete else 1e-3
    if discrete and len(candidates) < n + len(exclude):
        raise InputError(
            f"Asked for {n} point(s) but the candidate set has {len(candidates)} position(s) "
            f"({len(exclude)} pending); ask for fewer or give more candidates."
        )
    for _ in range(n):
        raw = acquisition.bind(model, context)
        polish_starts, polish_iter = n_starts, max_iter
        near: Any = None
        if isinstance(raw, ExplainedScorer):
            polish_starts = n_starts if raw.polish else 0
            if raw.polish_iter is not None:
                polish_iter = min(max_iter, raw.polish_iter)
            near = raw.near
        score, polish_score = raw, near
        if motion is not None and position is not None:
            floor = 0.0
            if not acquisition.nonnegative:
                vals = score_candidates(
                    raw, torch.as_tensor(candidates, dtype=gp.dtype, device=gp.device)
                )
                finite = vals[torch.isfinite(vals)]
                floor = float(finite.min()) if finite.numel() else 0.0
            score = weigh_by_time(raw, motion, position, floor)
            if near is not None:
                polish_score = _weighed_near(near, motion, position, floor)
        out = maximize(
            score,
            bounds,
            candidates,
            discrete=discrete,
            constraints=constraints,
            exclude=exclude,
            min_distance=min_distance,
            n_starts=polish_starts,
            max_iter=polish_iter,
            polish_score=polish_score,
            dtype=gp.dtype,
            device=gp.device,
        )
        x = out.x
        x_t = torch.as_tensor(x[None], dtype=gp.dtype, device=gp.device)
        with torch.no_grad():
            values.append(float(raw(x_t)))
        if isinstance(raw, ExplainedScorer):
            terms.append({"reason": raw.reason, **raw.terms(x_t)})
        chosen.append(x)
        fallback |= out.fallback
        if out.message:
            messages.append(out.message)
        exclude = np.vstack([exclude, x[None]])
        position = x if position is not None else None
        if len(chosen) < n:  # the next point sees this one as measured
            model = _fantasize(model, x[None])
    points = np.array(chosen)
    if acquisition.joint and n > 1 and not discrete and motion is None:
        base = _fantasize(gp, pending) if pending is not None and len(pending) else gp
        points = _polish_jointly(base, points, bounds, constraints, max_iter)
        values = _information_gains(base, points)
    return BatchSelection(
        points=points,
        values=np.asarray(values, dtype=float),
        fallback=fallback,
        messages=tuple(messages),
        terms=tuple(terms) if len(terms) == len(points) else (),
    )


def _weighed_near(near: Any, motion: MotionCost, position: np.ndarray, floor: float) -> Any:
    """The polish's local scorer, per second of travel like the scorer it stands in for."""

    def weighed(starts: np.ndarray) -> Any:
        return weigh_by_time(near(starts), motion, position, floor)

    return weighed


def _fantasize(gp: GaussianProcess, X: np.ndarray) -> GaussianProcess:
    """``gp`` conditioned on measurements at ``X`` valued at the posterior mean.

    With measured per-point noise, a fantasy measurement gets the median measured
    variance (what a new reading typically has), not zero.
    """
    measured = gp.noise_variance
    if measured is None or not measured.size:
        return gp.condition_on(X)
    return gp.condition_on(X, noise_variance=np.full(len(X), float(np.median(measured))))


def _information_gains(gp: GaussianProcess, points: np.ndarray) -> list[float]:
    """Per-point conditional gains; they sum to :func:`joint_information` of the batch."""
    noise = measurement_noise(gp)
    with torch.no_grad():
        cov = gp.posterior(points, full_cov=True).covariance
        eye = torch.eye(cov.shape[0], dtype=cov.dtype, device=cov.device)
        L = torch.linalg.cholesky(eye + cov / noise)
    return torch.log(L.diagonal()).tolist()


def _polish_jointly(
    gp: GaussianProcess,
    points: np.ndarray,
    bounds: np.ndarray,
    constraints: Sequence[Constraint],
    max_iter: int,
) -> np.ndarray:
    """Move all batch points together to raise the joint information; keep the greedy batch
    unless the result is better, feasible and has no repeated points."""
    n, d = points.shape
    lo, width = bounds[:, 0], bounds[:, 1] - bounds[:, 0]
    lo_t = torch.as_tensor(lo, dtype=gp.dtype, device=gp.device)
    width_t = torch.as_tensor(width, dtype=gp.dtype, device=gp.device)
    noise = measurement_noise(gp)

    def objective(z: np.ndarray) -> tuple[float, np.ndarray]:
        zt = torch.tensor(z, dtype=gp.dtype, device=gp.device, requires_grad=True)
        try:
            value = -joint_information(gp, lo_t + zt.reshape(n, d) * width_t, noise)
        except torch.linalg.LinAlgError:
            return 1e30, np.zeros_like(z)
        value.backward()
        return float(value.detach()), np.nan_to_num(zt.grad.cpu().numpy())

    z0 = ((points - lo) / width).reshape(-1)
    before, _ = objective(z0)
    method = "SLSQP" if constraints else "L-BFGS-B"
    extra = {}
    if constraints:

        def g(z: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                X = (
                    lo_t
                    + torch.as_tensor(z, dtype=gp.dtype, device=gp.device).reshape(n, d) * width_t
                )
                return constraint_values(constraints, X).cpu().numpy().reshape(-1)

        extra["constraints"] = [{"type": "ineq", "fun": g}]
    try:
        res = minimize(
            objective,
            z0,
            jac=True,
            method=method,
            bounds=[(0.0, 1.0)] * (n * d),
            options={"maxiter": max_iter},
            **extra,
        )
    except (ArithmeticError, RuntimeError, ValueError):
        return points
    z = np.clip(np.asarray(res.x, dtype=float), 0.0, 1.0)
    after, _ = objective(z)
    X = np.clip(lo + z.reshape(n, d) * width, bounds[:, 0], bounds[:, 1])
    diff = (X[:, None, :] - X[None, :, :]) / width
    dist = np.sqrt((diff**2).sum(-1)) + np.eye(n)
    feasible = True
    if constraints:
        with torch.no_grad():
            gx = constraint_values(
                constraints, torch.as_tensor(X, dtype=gp.dtype, device=gp.device)
            )
        feasible = bool((gx >= 0).all())
    if np.isfinite(after) and after < before and feasible and dist.min() >= 1e-3:
        return X
    return points
