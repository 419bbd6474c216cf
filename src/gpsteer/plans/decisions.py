"""What one decision of the plan was, and the ``agent``-stream records that say so.

A decision job (run in the plan's worker thread) returns a :class:`Decision`: the
agent's :class:`~gpsteer.agent.Suggestion` (or a stop reason), the model snapshot
and training status it decided with, and how long it took. The functions below turn
it into :class:`~gpsteer.schema.DecisionRecord` events: one per chosen point, one
per refused reading, one at the stop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gpsteer.agent.stopping import StopReason
from gpsteer.schema.agent_stream import DecisionRecord

__all__ = ["Decision", "chosen_record", "rejection_record", "stop_record"]


@dataclass
class Decision:
    """What one decision job returned from the worker thread.

    ``suggestion`` is None for explicit initial points (chosen by the user) and for
    the final snapshot.
    """

    suggestion: Any | None = None
    stop_reason: StopReason | None = None
    uncertainty: float = math.nan
    seconds: float = 0.0
    snapshot: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    n_pending: int = 0  # points chosen, not yet measured, when it decided

    def model_fields(self) -> dict[str, Any]:
        """The record fields that say which model decided."""
        return {
            "model_version": int(self.snapshot.get("model_version", 0)),
            "hyperparameters": self.snapshot.get("hyperparameters", {}),
            "state": self.snapshot,
            "training": self.training,
            "max_uncertainty": self.uncertainty,
            "decision_time": self.seconds,
            "n_pending": self.n_pending,
        }

    def choice_fields(self, index: int, n_points: int) -> dict[str, Any]:
        """The record fields that say how row ``index`` of the suggestion was chosen.

        ``n_points``: what the agent held, for explicit initial points (no suggestion).
        """
        s = self.suggestion
        if s is None:  # explicit initial points: chosen by the user, not by a model
            return {
                "acquisition": "initial_points",
                "n_points": n_points,
                "message": "initial point given to the plan",
            }
        terms = dict(s.terms[index]) if s.terms else {}
        return {
            "acquisition": s.acquisition,
            "reason": str(terms.pop("reason", "initial_design" if not s.terms else "")),
            "terms": terms,
            "acquisition_value": float(s.values[index]),
            "predicted_mean": float(s.predicted_mean[index]),
            "predicted_std": float(s.predicted_std[index]),
            "n_points": int(s.model_version.n_points),
            "fallback": bool(s.fallback),
            "message": str(s.message or ""),
        }


def chosen_record(
    decision: Decision, number: int, index: int, point: np.ndarray, n_points: int
) -> DecisionRecord:
    """The record of ``point``, row ``index`` of decision ``number`` (``action="measure"``)."""
    return DecisionRecord(
        action="measure",
        decision=number,
        batch_index=index,
        position=point,
        **decision.choice_fields(index, n_points),
        **decision.model_fields(),
    )


def rejection_record(
    decision: Decision,
    number: int,
    index: int,
    point: np.ndarray,
    n_points: int,
    rejection: Any,
) -> DecisionRecord:
    """The record of a reading at ``point`` the agent was not told (``action="reject"``)."""
    fields = decision.choice_fields(index, n_points)
    fields["message"] = f"reading seq_num {rejection.seq_num} not told: {rejection.reason}"
    return DecisionRecord(
        action="reject",
        decision=number,
        batch_index=index,
        position=point,
        **fields,
        **decision.model_fields(),
    )


def stop_record(
    final: Decision, number: int, dim: int, n_points: int, reason: StopReason, message: str
) -> DecisionRecord:
    """The last record of a run: the final model and why the run stopped (``action="stop"``)."""
    return DecisionRecord(
        action="stop",
        decision=number,
        batch_index=0,
        position=np.full(dim, np.nan),
        n_points=n_points,
        message=message,
        stop_reason=reason.value,
        **final.model_fields(),
    )
