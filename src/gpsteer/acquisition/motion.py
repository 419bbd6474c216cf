"""Motion cost: prefer informative points cheap to reach; order batches for short paths.

A measurement costs the time to drive the motors there plus a fixed overhead
(exposure, settling). Weighing the acquisition per unit of that time makes the agent
gather the most information per second rather than per point.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from gpsteer.errors import ConfigurationError, ShapeError

__all__ = ["MotionCost", "order_path", "path_time", "weigh_by_time"]


@dataclass(frozen=True)
class MotionCost:
    """Time to reach and measure a point.

    Parameters
    ----------
    speeds
        Motor speed per axis, in input units per second.
    overhead_s
        Fixed time per point (exposure, settling, readout), > 0 seconds.
    simultaneous
        Axes move together (time of the slowest axis, the default) or one after another
        (sum of the axes' times).
    """

    speeds: tuple[float, ...]
    overhead_s: float
    simultaneous: bool = True

    def __post_init__(self) -> None:
        speeds = tuple(float(s) for s in np.atleast_1d(np.asarray(self.speeds, dtype=float)))
        if not speeds or not all(math.isfinite(s) and s > 0 for s in speeds):
            raise ConfigurationError(f"Motor speeds must be finite and > 0; got {self.speeds}.")
        if not (math.isfinite(self.overhead_s) and self.overhead_s > 0):
            raise ConfigurationError(
                f"overhead_s must be > 0 (every measurement takes some time: exposure, "
                f"settling); got {self.overhead_s}."
            )
        object.__setattr__(self, "speeds", speeds)
        object.__setattr__(self, "overhead_s", float(self.overhead_s))

    @property
    def dim(self) -> int:
        return len(self.speeds)

    def time(self, start: Any, X: Any) -> Any:
        """Seconds to move from ``start`` ``(d,)`` to each row of ``X`` ``(m, d)`` and measure.

        Works on torch tensors (differentiable) and numpy arrays.
        """
        if X.shape[-1] != self.dim:
            raise ShapeError(f"MotionCost has {self.dim} speed(s); points have {X.shape[-1]}.")
        if torch.is_tensor(X):
            speeds = torch.as_tensor(self.speeds, dtype=X.dtype, device=X.device)
            start = torch.as_tensor(start, dtype=X.dtype, device=X.device)
            per_axis = (X - start).abs() / speeds
            move = per_axis.amax(-1) if self.simultaneous else per_axis.sum(-1)
        else:
            per_axis = np.abs(np.asarray(X) - np.asarray(start)) / np.asarray(self.speeds)
            move = per_axis.max(-1) if self.simultaneous else per_axis.sum(-1)
        return move + self.overhead_s

    def configuration(self) -> dict[str, Any]:
        return {
            "speeds": list(self.speeds),
            "overhead_s": self.overhead_s,
            "simultaneous": self.simultaneous,
        }


def weigh_by_time(score: Any, cost: MotionCost, position: np.ndarray, floor: float = 0.0) -> Any:
    """``(score(X) - floor) / time(position -> X)``: value per second.

    ``floor`` makes signed acquisitions (ucb, user functions) non-negative; use the lowest
    value over the candidates.
    """

    def weighted(X: torch.Tensor) -> torch.Tensor:
        return (score(X) - floor) / cost.time(position, X)

    return weighted


def _distance_matrix(points: np.ndarray, cost: MotionCost | None) -> np.ndarray:
    diff = np.abs(points[:, None, :] - points[None, :, :])
    if cost is None:
        return np.sqrt((diff**2).sum(-1))
    per_axis = diff / np.asarray(cost.speeds)
    return per_axis.max(-1) if cost.simultaneous else per_axis.sum(-1)


def order_path(
    points: np.ndarray, start: Sequence[float] | None = None, cost: MotionCost | None = None
) -> np.ndarray:
    """Visiting order (a permutation) for a short open path from ``start`` through ``points``.

    Nearest neighbour, then 2-opt segment reversals until none shortens the path. With a
    :class:`MotionCost` the length is travel time; without, Euclidean distance in input
    units.
    """
    points = np.asarray(points, dtype=float)
    n = points.shape[0]
    if n <= 1:
        return np.arange(n)
    nodes = points if start is None else np.vstack([np.asarray(start, dtype=float), points])
    D = _distance_matrix(nodes, cost)
    offset = 0 if start is None else 1
    # Nearest neighbour from the start (or from the first point when there is none).
    current = 0
    path = [] if start is not None else [0]
    remaining = set(range(offset, n + offset)) - set(path)
    while remaining:
        nxt = min(remaining, key=lambda j: D[current, j])
        path.append(nxt)
        remaining.remove(nxt)
        current = nxt
    path = np.array(path)
    improved = True
    while improved:
        improved = False
        for i in range(len(path) - 1):
            for j in range(i + 1, len(path)):
                prev = 0 if (i == 0 and start is not None) else (path[i - 1] if i > 0 else None)
                nxt = path[j + 1] if j + 1 < len(path) else None
                before = (D[prev, path[i]] if prev is not None else 0.0) + (
                    D[path[j], nxt] if nxt is not None else 0.0
                )
                after = (D[prev, path[j]] if prev is not None else 0.0) + (
                    D[path[i], nxt] if nxt is not None else 0.0
                )
                if after < before - 1e-12:
                    path[i : j + 1] = path[i : j + 1][::-1].copy()
                    improved = True
    return path - offset


def path_time(points: np.ndarray, start: Sequence[float] | None, cost: MotionCost | None) -> float:
    """Length of the path ``start -> points[0] -> points[1] -> ...`` (time with a cost)."""
    points = np.asarray(points, dtype=float)
    nodes = points if start is None else np.vstack([np.asarray(start, dtype=float), points])
    D = _distance_matrix(nodes, cost)
    total = float(sum(D[i, i + 1] for i in range(len(nodes) - 1)))
    if cost is not None:
        total += cost.overhead_s * points.shape[0]
    return total
