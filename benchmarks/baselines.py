"""GP-free baselines every map is judged against: raster, random points, python-adaptive.

Why: a GP map is only worth its cost if it beats what a scientist can do without a
GP. The raster of the same point count is what beamlines do today; random points
show what placement alone is worth; python-adaptive's ``Learner2D`` (BSD, on the
package index) is an adaptive sampler with no model beyond linear interpolation on
its triangulation. Each baseline is driven as its own documentation drives it and is
reconstructed by linear interpolation, so the GP side of a table differs only in the
model and the choice of points.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.interpolate import griddata

from benchmarks.fields import dense_grid

__all__ = [
    "Learner2DRun",
    "Map",
    "interpolator",
    "random_map",
    "raster_map",
    "raster_side",
]

#: ``map(points (m, 2)) -> values (m,)``: a reconstruction on the unit square.
Map = Callable[[np.ndarray], np.ndarray]


def raster_side(n_points: int) -> int:
    """Side of the square raster (edges included) with about ``n_points`` points.

    ``round(sqrt(n))``, at least 2: 100 -> 10 x 10, 200 -> 14 x 14 (196), 400 -> 20 x 20.
    """
    if n_points < 1:
        raise ValueError(f"n_points must be at least 1; got {n_points}")
    return max(2, round(math.sqrt(n_points)))


def interpolator(X: np.ndarray, y: np.ndarray) -> Map:
    """Linear interpolation on the points' triangulation; nearest neighbour outside the hull."""
    X, y = np.asarray(X, float), np.asarray(y, float)

    def predict(Xq: np.ndarray) -> np.ndarray:
        Xq = np.asarray(Xq, float)
        values = griddata(X, y, Xq, method="linear")
        holes = np.isnan(values)
        if holes.any():
            values[holes] = griddata(X, y, Xq[holes], method="nearest")
        return values

    return predict


def raster_map(field: Any, n_points: int, rng: np.random.Generator) -> Map:
    """A raster of ``raster_side(n_points)**2`` points: exact positions, noisy readings."""
    X = dense_grid(raster_side(n_points))
    return interpolator(X, field.measure(X, rng))


def random_map(field: Any, n_points: int, rng: np.random.Generator) -> Map:
    """``n_points`` uniform random positions, noisy readings, linear interpolation."""
    X = rng.uniform(0.0, 1.0, size=(n_points, 2))
    return interpolator(X, field.measure(X, rng))


class Learner2DRun:
    """python-adaptive's ``Learner2D`` on the unit square, as its docs drive it.

    ``adaptive.Learner2D(f, bounds=...)`` with its default loss, grown with
    ``adaptive.runner.simple(learner, npoints_goal=n)``; the map is
    ``learner.interpolator(scaled=False)`` (linear on its triangulation). ``f`` returns
    one noisy reading of ``field``; the learner is given no noise level (it has no use
    for one). :meth:`advance_to` grows the same learner budget after budget.
    """

    def __init__(self, field: Any, rng: np.random.Generator) -> None:
        import adaptive

        self._field, self._rng, self._measuring = field, rng, 0.0
        self.learner = adaptive.Learner2D(self._read, bounds=[(0.0, 1.0), (0.0, 1.0)])
        self.choosing_s = 0.0  # seconds spent choosing points, measuring excluded

    def _read(self, xy: tuple[float, float]) -> float:
        t0 = time.perf_counter()
        value = float(self._field.measure(np.array([xy], dtype=float), self._rng)[0])
        self._measuring += time.perf_counter() - t0
        return value

    @property
    def n(self) -> int:
        return int(self.learner.npoints)

    def advance_to(self, n_points: int) -> Map:
        """Measure until the learner holds ``n_points`` points; its map then."""
        import adaptive

        t0, self._measuring = time.perf_counter(), 0.0
        adaptive.runner.simple(self.learner, npoints_goal=n_points)
        self.choosing_s += time.perf_counter() - t0 - self._measuring
        linear = self.learner.interpolator(scaled=False)
        X = np.array(list(self.learner.data.keys()), dtype=float)
        y = np.array(list(self.learner.data.values()), dtype=float)

        def predict(Xq: np.ndarray) -> np.ndarray:
            Xq = np.asarray(Xq, float)
            values = np.asarray(linear(Xq), float).reshape(-1)
            holes = np.isnan(values)  # none expected: the learner starts at the corners
            if holes.any():
                values[holes] = griddata(X, y, Xq[holes], method="nearest")
            return values

        return predict
