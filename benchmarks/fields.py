"""Synthetic 2-D sample fields and the metrics every benchmark scores them with.

Why: benchmarks must compare engines on the *same* hidden sample, with known truth,
so the fields are pure functions of position on the unit square (no clock, no global
random state) and each carries the noise level a benchmark should add. The shapes
mimic what autonomous beamline maps meet: smooth gradients, sharp phase boundaries,
isolated hot spots, crystalline lattices and length scales that change across the
sample.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gpsteer.errors import InputError, ShapeError, UnknownNameError

__all__ = [
    "FIELDS",
    "Field",
    "cell_centres",
    "dense_grid",
    "get_field",
    "nlpd",
    "nrmse",
]

FieldFunction = Callable[[np.ndarray], np.ndarray]


def _check_points(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ShapeError(f"X must have shape (n, 2); got {X.shape}. Pass one row per point.")
    return X


@dataclass(frozen=True)
class Field:
    """A hidden 2-D sample: a deterministic function on [0, 1]^2 and its noise level.

    Parameters
    ----------
    name : str
        Registry key.
    function : callable
        ``f(X)`` with ``X`` of shape ``(n, 2)`` returning shape ``(n,)``.
    noise_std : float
        Standard deviation of the Gaussian measurement noise a benchmark adds;
        chosen as a few percent of the field's range.
    description : str
        One line on what the field tests.
    """

    name: str
    function: FieldFunction
    noise_std: float
    description: str

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """Noise-free value at each row of ``X`` (shape ``(n, 2)``) -> ``(n,)``."""
        return self.function(_check_points(X))

    def sample(
        self, n: int, rng: np.random.Generator, noise_std: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` uniform points and their noisy measurements.

        Returns ``(X, y)`` with shapes ``(n, 2)`` and ``(n,)``; ``noise_std`` overrides
        the field's own level.
        """
        X = rng.uniform(0.0, 1.0, size=(n, 2))
        return X, self.measure(X, rng, noise_std)

    def measure(
        self, X: np.ndarray, rng: np.random.Generator, noise_std: float | None = None
    ) -> np.ndarray:
        """Noisy measurement at given points (what a detector would return)."""
        s = self.noise_std if noise_std is None else noise_std
        y = self(X)
        return y + s * rng.standard_normal(y.shape)


def _gaussians(X: np.ndarray, centers, widths, amplitudes) -> np.ndarray:
    out = np.zeros(X.shape[0])
    for (cx, cy), w, a in zip(centers, widths, amplitudes, strict=True):
        r2 = (X[:, 0] - cx) ** 2 + (X[:, 1] - cy) ** 2
        out += a * np.exp(-0.5 * r2 / w**2)
    return out


def smooth(X: np.ndarray) -> np.ndarray:
    """A few broad Gaussians on a low-frequency ripple: the easy, stationary case."""
    g = _gaussians(
        X,
        centers=[(0.25, 0.3), (0.7, 0.65), (0.45, 0.85), (0.85, 0.2)],
        widths=[0.18, 0.15, 0.12, 0.2],
        amplitudes=[1.0, 0.8, -0.6, 0.5],
    )
    ripple = 0.25 * np.sin(2.0 * np.pi * X[:, 0]) * np.cos(1.5 * np.pi * X[:, 1])
    return g + ripple


def sharp_boundary(X: np.ndarray) -> np.ndarray:
    """Two phases separated by a curved, tanh-sharp boundary (width 0.015)."""
    boundary = 0.5 + 0.15 * np.sin(2.0 * np.pi * X[:, 0] + 0.5) + 0.1 * (X[:, 0] - 0.5)
    step = 0.5 * (1.0 + np.tanh((X[:, 1] - boundary) / 0.015))
    # Each phase has a mild gradient of its own, so the map is not just two constants.
    return 0.2 + 0.6 * step + 0.1 * X[:, 0] * (1.0 - step)


def hot_spots(X: np.ndarray) -> np.ndarray:
    """Narrow peaks (sigma 0.02-0.04) on a flat background: easy to miss entirely."""
    return 0.1 + _gaussians(
        X,
        centers=[(0.2, 0.75), (0.55, 0.35), (0.8, 0.8), (0.35, 0.15), (0.75, 0.55)],
        widths=[0.03, 0.025, 0.04, 0.02, 0.03],
        amplitudes=[1.0, 0.8, 0.9, 0.6, 0.7],
    )


def periodic_lattice(X: np.ndarray) -> np.ndarray:
    """A six-fold (hexagonal) lattice: three plane waves 120 degrees apart, period 0.2."""
    k = 2.0 * np.pi / 0.2
    total = np.zeros(X.shape[0])
    for angle in (0.0, 2.0 * np.pi / 3.0, 4.0 * np.pi / 3.0):
        direction = np.array([np.cos(angle + 0.2), np.sin(angle + 0.2)])
        total += np.cos(k * (X @ direction))
    # The sum lies in [-1.5, 3]; map it to [0, 1].
    return (total + 1.5) / 4.5


def varying_lengthscale(X: np.ndarray) -> np.ndarray:
    """A chirp along x (local period from ~0.5 down to ~0.07) under a smooth y envelope.

    A stationary kernel must compromise between the slow left and the fast right.
    """
    phase = 2.0 * np.pi * (2.0 * X[:, 0] + 6.0 * X[:, 0] ** 2)
    envelope = 0.6 + 0.4 * np.cos(np.pi * (X[:, 1] - 0.3))
    return 0.5 + 0.5 * envelope * np.sin(phase)


FIELDS: dict[str, Field] = {
    f.name: f
    for f in (
        Field("smooth", smooth, 0.02, "broad Gaussians and a low-frequency ripple"),
        Field("sharp_boundary", sharp_boundary, 0.02, "two phases, curved tanh boundary"),
        Field("hot_spots", hot_spots, 0.02, "five narrow peaks on a flat background"),
        Field("periodic_lattice", periodic_lattice, 0.03, "hexagonal lattice, period 0.2"),
        Field("varying_lengthscale", varying_lengthscale, 0.02, "chirp: length scale shrinks"),
    )
}


def get_field(name: str) -> Field:
    """Look up a field by name; the error lists the known names."""
    try:
        return FIELDS[name]
    except KeyError:
        raise UnknownNameError(f"unknown field {name!r}; choose one of {sorted(FIELDS)}") from None


def dense_grid(n: int = 100) -> np.ndarray:
    """An ``n x n`` evaluation grid on [0, 1]^2 (edges included) as ``(n*n, 2)`` points.

    Row-major in y then x, so ``values.reshape(n, n)`` is an image with x along columns.
    """
    if n < 2:
        raise InputError(f"grid size n must be at least 2; got {n}")
    t = np.linspace(0.0, 1.0, n)
    xx, yy = np.meshgrid(t, t)
    return np.column_stack([xx.ravel(), yy.ravel()])


def cell_centres(n: int = 250) -> np.ndarray:
    """The centres of an ``n x n`` division of [0, 1]^2, as ``(n*n, 2)`` points (x fastest).

    The scoring grid of the mapping benchmarks. Why not :func:`dense_grid`: a raster
    with edges included has its nodes at ``j / (side - 1)``; an evaluation grid that
    contains those nodes scores the raster where it measured, and its interpolation
    error vanishes there (a 100 x 100 raster scored on the 100 x 100 ``dense_grid``
    scores only its noise). Cell centres ``(i + 1/2) / n`` never coincide with a node
    when ``side - 1`` is odd (10, 14, 20, 50 and 100 are), and are finer than any raster
    compared here for ``n = 250``.
    """
    if n < 1:
        raise InputError(f"grid size n must be at least 1; got {n}")
    t = (np.arange(n) + 0.5) / n
    xx, yy = np.meshgrid(t, t)
    return np.column_stack([xx.ravel(), yy.ravel()])


def nrmse(truth: np.ndarray, prediction: np.ndarray) -> float:
    """Root-mean-square error divided by the range (max - min) of the truth.

    Why range and not std: a map with a few hot spots has a tiny std, which would
    make every error look huge; the range is what a colour bar shows.
    """
    truth = np.asarray(truth, dtype=np.float64)
    prediction = np.asarray(prediction, dtype=np.float64)
    if truth.shape != prediction.shape:
        raise ShapeError(f"shapes differ: truth {truth.shape}, prediction {prediction.shape}")
    span = float(np.max(truth) - np.min(truth))
    if span <= 0.0:
        raise InputError("the truth is constant; NRMSE by range is undefined")
    return float(np.sqrt(np.mean((prediction - truth) ** 2)) / span)


def nlpd(y: np.ndarray, mean: np.ndarray, variance: np.ndarray) -> float:
    """Mean negative log predictive density of ``y`` under independent Gaussians.

    ``mean(0.5*log(2*pi*var) + (y - mean)^2 / (2*var))``; lower is better. Pass the
    predictive variance of the observation (latent variance plus noise) when ``y``
    is noisy.
    """
    y = np.asarray(y, dtype=np.float64)
    mean = np.asarray(mean, dtype=np.float64)
    variance = np.asarray(variance, dtype=np.float64)
    if not (y.shape == mean.shape == variance.shape):
        raise ShapeError(
            f"shapes differ: y {y.shape}, mean {mean.shape}, variance {variance.shape}"
        )
    if not np.all(np.isfinite(variance) & (variance > 0.0)):
        raise InputError("every variance must be positive and finite; got a value <= 0 or NaN")
    return float(np.mean(0.5 * np.log(2.0 * np.pi * variance) + (y - mean) ** 2 / (2.0 * variance)))
