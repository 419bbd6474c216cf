"""What the plans call on an agent, as a typed protocol.

:class:`~gpsteer.agent.Agent` implements it. The plans
(:func:`~gpsteer.plans.autonomous_plan`, :func:`~gpsteer.plans.resume_plan`) accept
any object that does, and check for it before anything moves, so a second kind of
model behind the same interface plugs into the same plans, replay and resume.
"""

from __future__ import annotations

import concurrent.futures
from typing import Any, Protocol, runtime_checkable

import numpy as np

from gpsteer.agent.results import Suggestion

__all__ = ["SteeringAgent", "TrainingReport", "missing_calls"]


@runtime_checkable
class TrainingReport(Protocol):
    """A training status the plans record: JSON-able through :meth:`to_dict`."""

    def to_dict(self) -> dict[str, Any]: ...


@runtime_checkable
class SteeringAgent(Protocol):
    """The agent as the plans use it: tell, ask, stopping signals, training, snapshot.

    Everything but :meth:`cancel_training` runs in the plan's decision thread, never
    on the RunEngine's loop.
    """

    @property
    def dim(self) -> int:
        """Number of inputs (motors)."""

    @property
    def bounds(self) -> np.ndarray:
        """``(dim, 2)`` domain; the plan checks that it lies inside the motors' space."""

    @property
    def n(self) -> int:
        """Measurements told so far."""

    @property
    def training_future(self) -> concurrent.futures.Future[Any] | None:
        """The in-flight background training job, or None."""

    def tell(self, X: Any, y: Any, noise_variance: Any = None) -> None:
        """Take measurements ``X`` ``(n, dim)``, ``y`` ``(n,)``."""

    def ask(self, n: int = 1, *, current_position: Any = None, pending: Any = None) -> Suggestion:
        """Choose ``n`` points, ordered for a short path from ``current_position``.

        ``pending``: ``(m, dim)`` points chosen but not measured yet, to avoid (the plans
        decide during a move with the point moved to as pending; an agent whose ``ask``
        lacks this parameter is run in series).
        """

    def max_uncertainty(self) -> float:
        """Largest posterior standard deviation over the domain (user units)."""

    def snapshot(self) -> dict[str, Any]:
        """The model without its data, JSON-able (recorded with each decision)."""

    def configuration(self) -> dict[str, Any]:
        """The settings, JSON-able (recorded in the start document)."""

    def training_status(self) -> TrainingReport:
        """What training is doing and last accepted."""

    def train_async(self) -> bool:
        """Submit training on all the data; False if a job is already running."""

    def poll_training(self) -> None:
        """Take a finished training job in, if any."""

    def cancel_training(self) -> None:
        """Cancel the in-flight job without closing the agent (never waits)."""

    def close(self) -> None:
        """Release what the agent holds (a Dask cluster it started)."""


def missing_calls(agent: Any) -> list[str]:
    """The attributes of :class:`SteeringAgent` that ``agent`` lacks (empty: it has all)."""
    names = [name for name in vars(SteeringAgent) if not name.startswith("_")]
    return [name for name in names if not hasattr(agent, name)]
