"""Seeded test data in deliberately odd user units (shared by the tests and conftest)."""

from __future__ import annotations

import numpy as np

#: Input box in user units (mm, say): far from the unit box, different per axis.
BOUNDS = np.array([[-3.0, 5.0], [100.0, 102.0]])


def field(X: np.ndarray) -> np.ndarray:
    """A smooth 2-D test field in user units, offset and scaled far from N(0, 1)."""
    u = (X - BOUNDS[:, 0]) / (BOUNDS[:, 1] - BOUNDS[:, 0])
    return 250.0 + 40.0 * np.sin(5.0 * u[:, 0]) * np.cos(3.0 * u[:, 1]) + 15.0 * u[:, 1]


def sample_inputs(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` uniform points in :data:`BOUNDS`."""
    return BOUNDS[:, 0] + rng.uniform(size=(n, 2)) * (BOUNDS[:, 1] - BOUNDS[:, 0])
