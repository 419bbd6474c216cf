"""``map``: the default acquisition for mapping a sample.

Where a measurement is worth most for a map is where the map's expected error is
largest: the posterior variance. With the edge-aware kernel (``kernel="edge"``) that
variance is high in two kinds of place, and it adds them rather than trading one for
the other: unmeasured areas (coverage), and the uncertain band around an edge the data
revealed, where the kernel is short across the edge (edges).

A model that has explained the features it found is confident where it has not
looked: a flat background between two found hot spots looks certain, however large
the gap. So the acquisition keeps a floor under coverage: when the design has a hole
wider than ``coverage * n^(-1/d)`` (in the unit box, ``n`` points), it fills the widest
hole first. A raster of ``n`` points has holes of about ``0.7 n^(-1/d)``; the default
floor (1.25) costs a fraction of the points and keeps a raster's guarantee that no
feature larger than a few raster spacings goes unseen.

Each chosen point carries its reason (``"coverage"`` or ``"uncertainty"``) and its
terms (standard deviation, edge strength, widest gap and the floor), which the agent
records with the decision.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from scipy.spatial import cKDTree
from scipy.stats import qmc

from gpsteer.acquisition.base import (
    Acquisition,
    AcquisitionContext,
    ExplainedScorer,
    Scorer,
    posterior_std,
)
from gpsteer.errors import InputError
from gpsteer.gp.local import near
from gpsteer.gp.model import GaussianProcess
from gpsteer.gp.structure import field_kernels

__all__ = ["MapUncertainty", "gap_to_data"]

#: Iterations of the gradient polish of the uncertainty (see ``MapUncertainty.bind``).
POLISH_ITER = 10
#: Probe points (unit box) used to find the widest hole of a design.
_PROBES = 2048


def gap_to_data(U: torch.Tensor, data: torch.Tensor) -> torch.Tensor:
    """Distance from each row of ``U`` ``(m, d)`` to the nearest row of ``data`` ``(n, d)``."""
    d2 = ((U[:, None, :] - data[None, :, :]) ** 2).sum(-1)
    return d2.min(dim=1).values.clamp_min(1e-30).sqrt()


def _widest_gap(tree: cKDTree) -> float:
    """The largest distance from a probe point of the unit box to the nearest data point."""
    probes = qmc.Sobol(tree.m, scramble=True, seed=0).random(_PROBES)
    distance, _ = tree.query(probes)
    return float(distance.max())


def _gap_from_tree(tree: cKDTree, U: torch.Tensor) -> torch.Tensor:
    """:func:`gap_to_data` without gradients, from a k-d tree of the data (large maps)."""
    distance, _ = tree.query(U.detach().cpu().numpy())
    return torch.as_tensor(distance, dtype=U.dtype, device=U.device)


class MapUncertainty(Acquisition):
    """``map``: the map's posterior standard deviation, with a coverage floor.

    Parameters
    ----------
    coverage
        The floor, as a multiple of ``n^(-1/d)`` (unit box): a hole wider than this is
        filled before anything else. ``None`` turns the floor off (pure ``variance``).
    """

    name = "map"
    nonnegative = True

    def __init__(self, coverage: float | None = 1.25) -> None:
        if coverage is not None and (not math.isfinite(coverage) or coverage <= 0):
            raise InputError(f"coverage must be a positive number or None; got {coverage!r}.")
        self.coverage = None if coverage is None else float(coverage)

    def options(self) -> dict[str, Any]:
        return {"coverage": self.coverage}

    def bind(self, gp: GaussianProcess, context: AcquisitionContext) -> Scorer:
        box = torch.as_tensor(gp.input_bounds, dtype=gp.dtype, device=gp.device)
        lo, span = box[:, 0], box[:, 1] - box[:, 0]
        data = (torch.as_tensor(gp.X, dtype=gp.dtype, device=gp.device) - lo) / span
        dim = int(data.shape[1])
        floor = math.inf if self.coverage is None else self.coverage * gp.n ** (-1.0 / dim)
        tree = cKDTree(data.cpu().numpy())
        widest = _widest_gap(tree)
        edges = field_kernels(gp.kernel)

        def terms(X: torch.Tensor) -> dict[str, float]:
            with torch.no_grad():
                U = (X - lo) / span
                out = {
                    "std": float(posterior_std(gp.posterior(X).variance, gp)[0]),
                    "gap": float(_gap_from_tree(tree, U)[0]),
                    "widest_gap": widest,
                    "gap_floor": floor,
                }
                strength = [float(k.edge_strength(U)[0]) for k in edges if k.field is not None]
                if strength:
                    out["edge_strength"] = max(strength)
            return out

        if widest > floor:

            def fill_gap(X: torch.Tensor) -> torch.Tensor:
                U = (X - lo) / span
                return gap_to_data(U, data) if U.requires_grad else _gap_from_tree(tree, U)

            # the best candidate will do: no polish
            return ExplainedScorer(fill_gap, "coverage", terms, polish=False)

        def uncertainty_of(model: GaussianProcess) -> Scorer:
            def uncertainty(X: torch.Tensor) -> torch.Tensor:
                return posterior_std(model.posterior(X).variance, gp)

            return uncertainty

        # a short polish: the edge-aware variance has narrow ridges, and a long polish
        # along one costs more than it gains (measured: ~95 evaluations at 50 iterations);
        # on the model of the starts' neighbours, which is as good there and cheaper
        return ExplainedScorer(
            uncertainty_of(gp),
            "uncertainty",
            terms,
            polish_iter=POLISH_ITER,
            near=lambda starts: uncertainty_of(near(gp, starts)),
        )
