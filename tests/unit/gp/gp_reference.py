"""Independent numpy/scipy reference implementations for the GP engine's tests.

Written from the textbook formulas (Rasmussen & Williams, ch. 2 and 4), without
importing anything from :mod:`gpsteer.gp`, so that a test comparing the engine with
these functions checks the engine rather than itself. All kernels act on inputs in
the unit box; :func:`reference_gp` maps user units exactly as the engine documents.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.stats import multivariate_normal


def _pairwise_diff(x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    return x1[:, None, :] - x2[None, :, :]  # (n, m, d)


def scaled_distance(x1: np.ndarray, x2: np.ndarray, lengthscale: np.ndarray) -> np.ndarray:
    """``|x1 - x2| / l`` per pair, computed directly (no expansion of the square)."""
    diff = _pairwise_diff(x1, x2) / np.asarray(lengthscale)
    return np.sqrt((diff**2).sum(-1))


def k_se(x1, x2, lengthscale):
    r = scaled_distance(x1, x2, lengthscale)
    return np.exp(-0.5 * r**2)


def k_matern(x1, x2, lengthscale, nu):
    r = scaled_distance(x1, x2, lengthscale)
    if nu == 0.5:
        return np.exp(-r)
    if nu == 1.5:
        return (1 + np.sqrt(3) * r) * np.exp(-np.sqrt(3) * r)
    if nu == 2.5:
        return (1 + np.sqrt(5) * r + 5 * r**2 / 3) * np.exp(-np.sqrt(5) * r)
    raise ValueError(nu)


def k_periodic(x1, x2, period, lengthscale):
    diff = np.abs(_pairwise_diff(x1, x2))
    s = np.sin(np.pi * diff / np.asarray(period)) / np.asarray(lengthscale)
    return np.exp(-2.0 * (s**2).sum(-1))


def k_linear(x1, x2, variance, offset):
    return offset + variance * (x1 - 0.5) @ (x2 - 0.5).T


def normalise(X: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    bounds = np.asarray(bounds, dtype=float)
    return (X - bounds[:, 0]) / (bounds[:, 1] - bounds[:, 0])


def reference_gp(
    kernel_fn,
    X: np.ndarray,
    y: np.ndarray,
    Xq: np.ndarray,
    *,
    bounds: np.ndarray,
    y_scale: float,
    noise: np.ndarray | float,
    mean_fn=lambda X: np.zeros(len(X)),
) -> dict[str, np.ndarray | float]:
    """Posterior mean/covariance and log marginal likelihood in user units.

    ``kernel_fn(a, b)`` is the kernel in standardised output units on unit-box inputs;
    ``noise`` the noise variance(s) in standardised units. The covariance of the data in
    user units is therefore ``y_scale**2 * (K + diag(noise))``.
    """
    Xn, Xqn = normalise(X, bounds), normalise(Xq, bounds)
    n = len(X)
    s2 = y_scale**2
    Ky = s2 * (kernel_fn(Xn, Xn) + np.diag(np.broadcast_to(noise, (n,))))
    Kq = s2 * kernel_fn(Xqn, Xn)
    Kqq = s2 * kernel_fn(Xqn, Xqn)
    m, mq = mean_fn(X), mean_fn(Xq)
    c = cho_factor(Ky, lower=True)
    mean = mq + Kq @ cho_solve(c, y - m)
    cov = Kqq - Kq @ cho_solve(c, Kq.T)
    lml = multivariate_normal(mean=m, cov=Ky).logpdf(y)
    return {"mean": mean, "cov": cov, "var": np.diag(cov), "lml": float(lml)}
