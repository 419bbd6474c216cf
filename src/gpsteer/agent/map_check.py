"""Never report a map worse than interpolation of its own points.

A GP can fail in ways its likelihood does not show: trained on a lattice it has not
resolved, it may explain everything as noise and answer with a flat map. A map made
by plain interpolation of the same measurements has no such failure. So each time the
model changes, the agent compares the two on held-out points: the GP's leave-one-out
error (exact, from its factor) against the leave-one-out error of local linear
interpolation (each point predicted from a plane through its nearest neighbours). When
the GP predicts held-out measurements worse, :meth:`Agent.predict` reports the
interpolated map instead, and every decision records it until the model does better.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.interpolate import LinearNDInterpolator, NearestNDInterpolator
from scipy.spatial import cKDTree

__all__ = ["MapCheck", "check_map", "interpolated_map", "local_linear_residuals"]

#: The GP must be worse by more than this factor in leave-one-out RMSE before the agent
#: reports interpolation: a margin against flapping between the two on a tie.
MARGIN = 1.1
#: Fewer points than this per input dimension and no comparison is made.
MIN_POINTS_PER_DIM = 6


@dataclass(frozen=True)
class MapCheck:
    """The comparison behind the reported map (RMSEs in the model's output units)."""

    model_rmse: float
    interpolation_rmse: float
    n_points: int

    @property
    def uses_interpolation(self) -> bool:
        return self.model_rmse > MARGIN * self.interpolation_rmse

    @property
    def message(self) -> str:
        if not self.uses_interpolation:
            return ""
        return (
            f"the model predicts held-out points worse than interpolation (leave-one-out RMSE "
            f"{self.model_rmse:.3g} vs {self.interpolation_rmse:.3g}): the reported map is "
            "linear interpolation of the measurements until the model does better"
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MapCheck:
        return cls(
            model_rmse=float(data["model_rmse"]),
            interpolation_rmse=float(data["interpolation_rmse"]),
            n_points=int(data["n_points"]),
        )

    def to_dict(self) -> dict[str, float | int | bool]:
        return {
            "model_rmse": self.model_rmse,
            "interpolation_rmse": self.interpolation_rmse,
            "n_points": self.n_points,
            "uses_interpolation": self.uses_interpolation,
        }


def local_linear_residuals(
    U: np.ndarray, y: np.ndarray, at: np.ndarray | None = None
) -> np.ndarray:
    """Each ``y`` (of the points ``at``, default all) minus a plane fitted (least squares)
    to its ``2 d + 2`` nearest other points, evaluated at its position ``U`` (unit box)."""
    n, d = U.shape
    at = np.arange(n) if at is None else np.asarray(at, dtype=np.int64)
    k = min(n - 1, 2 * d + 2)
    _, idx = cKDTree(U).query(U[at], k=k + 1)
    out = np.empty(len(at))
    for row, i in enumerate(at):
        nb = idx[row][idx[row] != i][:k]
        A = np.column_stack([np.ones(k), U[nb] - U[i]])
        coef, *_ = np.linalg.lstsq(A, y[nb], rcond=None)
        out[row] = y[i] - coef[0]
    return out


def check_map(
    U: np.ndarray, y: np.ndarray, model_residuals: np.ndarray, at: np.ndarray | None = None
) -> MapCheck | None:
    """Compare the model's leave-one-out residuals with interpolation's, at the points ``at``
    (default all; a large map's sample); ``None`` when there are too few points to say."""
    n, d = U.shape
    if n < MIN_POINTS_PER_DIM * d:
        return None
    interp = local_linear_residuals(U, y, at)
    return MapCheck(
        model_rmse=float(np.sqrt(np.mean(model_residuals**2))),
        interpolation_rmse=float(np.sqrt(np.mean(interp**2))),
        n_points=n,
    )


def interpolated_map(U: np.ndarray, y: np.ndarray, Uq: np.ndarray) -> np.ndarray:
    """Linear interpolation of ``y`` at ``Uq`` (nearest neighbour outside the hull)."""
    if U.shape[1] == 1:
        order = np.argsort(U[:, 0])
        return np.interp(Uq[:, 0], U[order, 0], y[order])
    nearest = NearestNDInterpolator(U, y)
    try:
        values = LinearNDInterpolator(U, y)(Uq)
    except Exception:  # qhull refuses degenerate (e.g. collinear) designs
        return nearest(Uq)
    holes = np.isnan(values)
    if holes.any():
        values[holes] = nearest(Uq[holes])
    return values
