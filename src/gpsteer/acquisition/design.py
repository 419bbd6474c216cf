"""Space-filling initial designs: where to measure before there is any model."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from gpsteer.acquisition.optimize import Constraint, constraint_values, sobol_points
from gpsteer.errors import ConfigurationError, InputError

__all__ = ["farthest_points", "space_filling"]


def farthest_points(
    candidates: np.ndarray, n: int, width: np.ndarray, exclude: np.ndarray | None = None
) -> np.ndarray:
    """Indices of ``n`` candidates chosen greedily to be far from each other and ``exclude``.

    Starts from the candidate nearest the centre of the candidates when nothing is excluded,
    so the result is deterministic.
    """
    C = candidates / width
    if exclude is not None and len(exclude):
        dmin = np.min(np.linalg.norm(C[:, None, :] - (exclude / width)[None], axis=-1), axis=1)
        chosen: list[int] = []
    else:
        first = int(np.argmin(np.linalg.norm(C - C.mean(axis=0), axis=1)))
        dmin = np.linalg.norm(C - C[first], axis=1)
        chosen = [first]
    dmin[chosen] = -np.inf
    while len(chosen) < n:
        i = int(np.argmax(dmin))
        if dmin[i] <= 1e-12:  # only repeats left
            break
        chosen.append(i)
        dmin = np.minimum(dmin, np.linalg.norm(C - C[i], axis=1))
        dmin[chosen] = -np.inf
    return np.array(chosen, dtype=int)


def space_filling(
    bounds: np.ndarray,
    n: int,
    rng: np.random.Generator,
    *,
    candidates: np.ndarray | None = None,
    constraints: Sequence[Constraint] = (),
    exclude: np.ndarray | None = None,
) -> np.ndarray:
    """``n`` well-spread points: Sobol in the box, or farthest-point picks from ``candidates``
    (or from feasible Sobol points when there are constraints or points to avoid)."""
    width = bounds[:, 1] - bounds[:, 0]
    plain = candidates is None and not constraints and (exclude is None or not len(exclude))
    if plain:
        return sobol_points(bounds, n, rng)
    pool = candidates if candidates is not None else sobol_points(bounds, max(256, 16 * n), rng)
    if constraints:
        with torch.no_grad():
            g = constraint_values(constraints, torch.as_tensor(pool, dtype=torch.float64))
        pool = pool[np.all(g.numpy() >= 0, axis=1)]
        if len(pool) == 0:
            raise ConfigurationError(
                "No candidate satisfies the constraints (g(x) >= 0); check the signs of the "
                "constraint functions."
            )
    idx = farthest_points(pool, n, width, exclude)
    if len(idx) < n:
        raise InputError(
            f"Only {len(idx)} distinct allowed position(s) are left for {n} requested; ask for "
            "fewer points or give more candidates."
        )
    return pool[idx]
