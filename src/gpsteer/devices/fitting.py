"""Weighted least-squares fit of one peak on a linear background.

Used by :mod:`gpsteer.devices.reductions` for SAXS rings and ARPES energy
distribution curves; pure numpy. A grid search with the linear terms solved
exactly (variable projection) finds the basin, Levenberg-Marquardt refines all
parameters, and (J^T W J)^-1 is the covariance: with W = 1 / data variance, the
parameter variances follow from the counting statistics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gpsteer.errors import ShapeError

__all__ = ["PeakFit", "Shape", "fit_peak", "gaussian", "weighted_lstsq"]

_NAN = float("nan")
_INF = float("inf")

Shape = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def gaussian(x: np.ndarray, center: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Unit-area Gaussian; broadcasts ``center``/``sigma`` against ``x``."""
    return np.exp(-0.5 * ((x - center) / sigma) ** 2) / (sigma * np.sqrt(2.0 * np.pi))


@dataclass(frozen=True)
class PeakFit:
    """A weighted fit of ``amplitude * shape(x, center, width) + background @ coef``.

    ``covariance`` is ordered (amplitude, center, width, ``*background_coef``).
    """

    amplitude: float
    center: float
    width: float
    background_coef: np.ndarray
    covariance: np.ndarray
    chi2: float
    dof: int
    ok: bool

    def model(self, x: np.ndarray, shape: Shape, background: np.ndarray) -> np.ndarray:
        """The fitted curve at ``x`` (``background`` evaluated at the same ``x``)."""
        return (
            self.amplitude * shape(x, self.center, self.width) + background @ self.background_coef
        )

    def std(self, index: int) -> float:
        """Standard error of parameter ``index`` (see ``covariance`` order)."""
        return float(np.sqrt(self.covariance[index, index]))


def weighted_lstsq(design: np.ndarray, y: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Coefficients minimising sum(weight * (y - design @ coef)**2)."""
    sw = np.sqrt(weight)
    coef, *_ = np.linalg.lstsq(design * sw[:, None], y * sw, rcond=None)
    return coef


def _grid_start(
    x: np.ndarray,
    y: np.ndarray,
    weight: np.ndarray,
    shape: Shape,
    centers: np.ndarray,
    widths: np.ndarray,
    background: np.ndarray,
) -> np.ndarray | None:
    """Best grid node, the linear parameters solved exactly there (variable projection)."""
    n_bg = background.shape[1]
    cc, ww = (a.ravel() for a in np.meshgrid(centers, widths, indexing="ij"))
    peaks = shape(x[None, :], cc[:, None], ww[:, None])  # (G, n)
    wb = background * weight[:, None]
    normal = np.empty((len(cc), 1 + n_bg, 1 + n_bg))
    normal[:, 0, 0] = np.einsum("gn,gn,n->g", peaks, peaks, weight)
    normal[:, 0, 1:] = normal[:, 1:, 0] = peaks @ wb
    normal[:, 1:, 1:] = background.T @ wb
    rhs = np.empty((len(cc), 1 + n_bg))
    rhs[:, 0] = peaks @ (weight * y)
    rhs[:, 1:] = background.T @ (weight * y)
    normal += np.eye(1 + n_bg) * 1e-12 * np.trace(normal, axis1=1, axis2=2)[:, None, None]
    coef = np.linalg.solve(normal, rhs[..., None])[..., 0]
    chi2 = np.sum(weight * y**2) - np.einsum("gk,gk->g", coef, rhs)
    chi2[coef[:, 0] <= 0] = np.inf
    if not np.any(np.isfinite(chi2)):
        return None
    best = int(np.argmin(chi2))
    return np.concatenate([[coef[best, 0], cc[best], ww[best]], coef[best, 1:]])


def fit_peak(
    x: np.ndarray,
    y: np.ndarray,
    variance: np.ndarray,
    shape: Shape,
    centers: np.ndarray,
    widths: np.ndarray,
    background: np.ndarray,
    *,
    start: PeakFit | None = None,
    iterations: int = 30,
) -> PeakFit:
    """Fit one peak plus linear background terms by weighted least squares.

    A grid search over (center, width) with the linear terms solved exactly at
    each node (variable projection) finds the basin; Levenberg-Marquardt on all
    parameters refines it, and (J^T W J)^-1 is the covariance.

    Parameters
    ----------
    x, y, variance
        Abscissa, data and data variance, each of shape ``(n,)``.
    shape
        ``shape(x, center, width)``, unit-area peak, broadcasting.
    centers, widths
        Grid of starting values.
    background
        ``(n, m)`` matrix of fixed background basis functions.
    start
        A previous fit of the same data to refine (skips the grid search), e.g.
        when refitting with variances from the model instead of the data.
    """
    x, y, variance = (np.asarray(a, dtype=float) for a in (x, y, variance))
    background = np.asarray(background, dtype=float).reshape(len(x), -1)
    if not (x.shape == y.shape == variance.shape and x.ndim == 1):
        raise ShapeError("fit_peak needs x, y and variance of the same 1-D shape")
    n_bg = background.shape[1]
    n_par = 3 + n_bg
    weight = 1.0 / np.maximum(variance, np.finfo(float).tiny)
    bad = PeakFit(
        _NAN, _NAN, _NAN, np.full(n_bg, _NAN), np.full((n_par,) * 2, _INF), _INF, 0, False
    )
    if len(x) <= n_par or not np.all(np.isfinite(y)):
        return bad

    if start is not None and start.ok:
        params = np.concatenate(
            [[start.amplitude, start.center, start.width], start.background_coef]
        )
    else:
        params = _grid_start(x, y, weight, shape, centers, widths, background)
        if params is None:
            return bad

    def residual_and_jacobian(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        amp, center, width = p[0], p[1], p[2]
        unit = shape(x, center, width)
        model = amp * unit + background @ p[3:]
        jac = np.empty((len(x), n_par))
        jac[:, 0] = unit
        for k, (value, step) in enumerate(((center, 1e-5 * width), (width, 1e-5 * width))):
            hi, lo = p.copy(), p.copy()
            hi[1 + k], lo[1 + k] = value + step, value - step
            jac[:, 1 + k] = amp * (shape(x, hi[1], hi[2]) - shape(x, lo[1], lo[2])) / (2 * step)
        jac[:, 3:] = background
        return y - model, jac

    damping = 1e-3
    resid, jac = residual_and_jacobian(params)
    cost = float(np.sum(weight * resid**2))
    for _ in range(iterations):
        jtwj = jac.T @ (jac * weight[:, None])
        grad = jac.T @ (weight * resid)
        try:
            step = np.linalg.solve(jtwj + damping * np.diag(np.diag(jtwj)), grad)
        except np.linalg.LinAlgError:
            break
        trial = params + step
        if trial[2] <= 0:
            damping *= 10
            continue
        new_resid, new_jac = residual_and_jacobian(trial)
        new_cost = float(np.sum(weight * new_resid**2))
        if new_cost < cost:
            converged = cost - new_cost < 1e-10 * max(cost, 1.0)
            params, resid, jac, cost = trial, new_resid, new_jac, new_cost
            damping = max(damping / 10, 1e-9)
            if converged:
                break
        else:
            damping *= 10
            if damping > 1e8:
                break
    try:
        covariance = np.linalg.inv(jac.T @ (jac * weight[:, None]))
    except np.linalg.LinAlgError:
        return bad
    ok = bool(
        params[0] > 0 and np.all(np.isfinite(covariance)) and np.all(np.diag(covariance) >= 0)
    )
    return PeakFit(
        amplitude=float(params[0]),
        center=float(params[1]),
        width=float(params[2]),
        background_coef=params[3:].copy(),
        covariance=covariance,
        chi2=cost,
        dof=len(x) - n_par,
        ok=ok,
    )
