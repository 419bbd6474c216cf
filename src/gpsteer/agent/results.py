"""Typed results the agent returns: a suggestion, the model version behind it, a run's outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gpsteer.agent.stopping import StopReason

__all__ = ["ModelVersion", "RunResult", "Suggestion"]


@dataclass(frozen=True)
class ModelVersion:
    """Which model made a decision: data size, hyperparameters, and a counter.

    ``version`` increases each time the hyperparameters change (training accepted), so
    two decisions with the same version and ``n_points`` came from the same posterior.
    """

    n_points: int
    hyperparameters: dict[str, list[float]]
    version: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_points": self.n_points,
            "hyperparameters": self.hyperparameters,
            "version": self.version,
        }


@dataclass(frozen=True)
class Suggestion:
    """Where to measure next, and why.

    Attributes
    ----------
    points
        ``(n, d)`` positions, ordered for a short motor path from the current position.
    acquisition
        Name of the acquisition function (``"initial_design"`` before any data).
    values
        ``(n,)`` acquisition values (model units; NaN for an initial design). Each is the
        value when the point was chosen, i.e. given the points chosen before it (greedy
        order, which the path ordering may change), without motion-cost weighting.
    model_version
        The model that chose the points.
    predicted_mean, predicted_std
        ``(n,)`` posterior at the points, in user units (NaN before any data).
    fallback
        ``True`` when an optimizer failed and the best space-filling candidate was used.
    message
        What happened, when something needs saying (fallbacks, initial design).
    travel_time_s
        Estimated time to visit the points in order, measurement overheads included
        (only with a motion cost).
    terms
        Per point, why it was chosen and the acquisition's terms there (``map``:
        ``reason`` "coverage" or "uncertainty", ``std``, ``edge_strength``, ``gap``,
        ``widest_gap``, ``gap_floor``); empty for acquisitions that do not say.
    """

    points: np.ndarray
    acquisition: str
    values: np.ndarray
    model_version: ModelVersion
    predicted_mean: np.ndarray
    predicted_std: np.ndarray
    fallback: bool = False
    message: str = ""
    travel_time_s: float | None = None
    terms: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, for event documents and logs."""
        return {
            "points": self.points.tolist(),
            "acquisition": self.acquisition,
            "values": self.values.tolist(),
            "model_version": self.model_version.to_dict(),
            "predicted_mean": self.predicted_mean.tolist(),
            "predicted_std": self.predicted_std.tolist(),
            "fallback": self.fallback,
            "message": self.message,
            "travel_time_s": self.travel_time_s,
            "terms": [dict(t) for t in self.terms],
        }


@dataclass(frozen=True)
class RunResult:
    """What :meth:`Agent.run` did: points measured, why it stopped, how long it took."""

    n_measured: int
    stop_reason: StopReason
    elapsed_s: float
    n_batches: int
    max_uncertainty: float | None = None
    suggestions: tuple[Suggestion, ...] = field(default=(), repr=False)
