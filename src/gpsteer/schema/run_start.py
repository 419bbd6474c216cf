"""What gpsteer records in a run's start document, under the ``gpsteer`` key.

The plan writes it (:func:`~gpsteer.plans.autonomous_plan`); replay, the ``gpsteer
replay`` command and the live plot read it back. :class:`RunStart` is that record,
written and parsed in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gpsteer.errors import InputError
from gpsteer.schema.agent_stream import STREAM

__all__ = ["KEY", "Axis", "RunStart"]

#: The start document's key that holds gpsteer's record.
KEY = "gpsteer"


@dataclass(frozen=True)
class Axis:
    """One model input: the motor, the event field of its readback, its bounds."""

    motor: str
    field: str
    lo: float
    hi: float

    def to_metadata(self) -> dict[str, Any]:
        """``{"motor", "field", "lo", "hi"}``, as the start document holds it."""
        return {"motor": self.motor, "field": self.field, "lo": self.lo, "hi": self.hi}


@dataclass(frozen=True)
class RunStart:
    """The ``gpsteer`` entry of an autonomous run's start document.

    Attributes
    ----------
    space : tuple of Axis
        The model inputs, in order.
    target : dict
        :meth:`TargetSpec.metadata <gpsteer.schema.TargetSpec.metadata>` of the target.
    agent : dict
        ``agent.configuration()``: what rebuilds the agent.
    agent_points_before_run : int
        Points the agent held when the run started (told outside any run: the
        catalog cannot rebuild them).
    budgets : dict
        ``max_points``, ``batch_size``, ``max_time``, ``target_uncertainty``.
    resumed_from : str or None
        The uid of the run this one continues.
    version : str
        The gpsteer version that wrote it.
    agent_stream : str
        The name of the decisions' event stream.
    """

    space: tuple[Axis, ...]
    target: Mapping[str, Any]
    agent: Mapping[str, Any]
    agent_points_before_run: int = 0
    budgets: Mapping[str, Any] = field(default_factory=dict)
    resumed_from: str | None = None
    version: str = "unknown"
    agent_stream: str = STREAM

    @property
    def motors(self) -> tuple[str, ...]:
        """The motors' names, in model-input order."""
        return tuple(axis.motor for axis in self.space)

    @property
    def fields(self) -> tuple[str, ...]:
        """The readback fields (the model inputs ``x``), in order."""
        return tuple(axis.field for axis in self.space)

    @property
    def bounds(self) -> np.ndarray:
        """``(d, 2)`` bounds of the inputs."""
        return np.array([(axis.lo, axis.hi) for axis in self.space], dtype=np.float64)

    def to_metadata(self) -> dict[str, Any]:
        """The JSON-able mapping stored under ``start["gpsteer"]``."""
        return {
            "version": self.version,
            "space": [axis.to_metadata() for axis in self.space],
            "target": dict(self.target),
            "agent": dict(self.agent),
            "agent_points_before_run": int(self.agent_points_before_run),
            "budgets": dict(self.budgets),
            "agent_stream": self.agent_stream,
            "resumed_from": self.resumed_from,
        }

    @classmethod
    def from_start(cls, start: Mapping[str, Any]) -> RunStart:
        """Read the record of a start document.

        Raises
        ------
        InputError
            The run was not recorded by gpsteer's plans.
        """
        meta = start.get(KEY)
        if not isinstance(meta, Mapping) or "space" not in meta or "agent" not in meta:
            raise InputError(
                f"run {str(start.get('uid', '?'))[:8]} (plan {start.get('plan_name')!r}) was "
                "not recorded by gpsteer's autonomous_plan; pick a run whose plan_name is "
                "'autonomous_plan' or 'resume_plan'"
            )
        return cls(
            space=tuple(
                Axis(str(a["motor"]), str(a["field"]), float(a["lo"]), float(a["hi"]))
                for a in meta["space"]
            ),
            target=dict(meta.get("target") or {}),
            agent=dict(meta["agent"]),
            agent_points_before_run=int(meta.get("agent_points_before_run") or 0),
            budgets=dict(meta.get("budgets") or {}),
            resumed_from=meta.get("resumed_from") or None,
            version=str(meta.get("version", "unknown")),
            agent_stream=str(meta.get("agent_stream", STREAM)),
        )
