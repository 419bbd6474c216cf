"""The model restricted to the data near some points: cheap, nearly exact predictions there.

Why: a gradient polish of an acquisition evaluates the posterior a dozen times at a
few points, and each exact evaluation reads the whole ``N x N`` factor (forward and
backward). Near the query points the posterior is set by the nearest data; farther
data are screened off by them (for Matérn kernels, within a percent with ~100
neighbours per point in 2-D). So the polish can run on the model of the neighbours
and the optimizer checks its end point with the exact model.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.spatial import cKDTree

from gpsteer.errors import InputError
from gpsteer.gp.model import GaussianProcess
from gpsteer.gp.neighbours import NeighbourGP

__all__ = ["NEIGHBOURS", "near"]

#: Data points kept per query point: the standard deviation within ~1 % of the exact
#: one on smooth fields at N = 1000-2000 (64 neighbours: up to 9 %).
NEIGHBOURS = 128


def near(gp: GaussianProcess, Xq: ArrayLike, neighbours: int = NEIGHBOURS) -> GaussianProcess:
    """``gp`` on the union of the ``neighbours`` data points nearest each row of ``Xq``.

    Distances are taken in the unit box of ``gp.input_bounds``. Returns ``gp`` itself
    when the union would keep more than half of the data (no saving worth the error).
    """
    if neighbours < 1:
        raise InputError(f"neighbours must be >= 1; got {neighbours}.")
    Xq = np.atleast_2d(np.asarray(Xq, dtype=float))
    if gp.n == 0 or 2 * neighbours * len(Xq) >= gp.n:
        return gp
    if isinstance(gp, NeighbourGP):  # a large map: its own search tree, in its metric
        return gp.near(Xq, neighbours)
    lo, hi = gp.input_bounds[:, 0], gp.input_bounds[:, 1]
    tree = cKDTree((gp.X - lo) / (hi - lo))
    _, index = tree.query((Xq - lo) / (hi - lo), k=neighbours)
    kept = np.unique(index)
    return gp if 2 * kept.size >= gp.n else gp.subset(kept)
