"""What the plans need of an agent beyond tell/ask: its training future, its state, cancelling.

Kept in one place so the plans' needs of an agent are visible at a glance. Everything
in this module except :func:`cancel_training` runs in the plan's decision thread, never
on the RunEngine loop.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "cancel_training",
    "default_agent",
    "points_in",
    "training_future",
    "training_status",
]


def default_agent(bounds: np.ndarray, *, seed: int | None) -> Any:
    """The agent a plan builds when none is given: variance mapping, trained on Dask.

    Why Dask: training then overlaps the measurements (an embedded ``LocalCluster``
    on 127.0.0.1, started in the background at the first training and closed
    with the agent).
    """
    from gpsteer.agent import Agent

    return Agent(bounds=np.asarray(bounds).tolist(), seed=seed, training="dask")


def training_future(agent: Any) -> concurrent.futures.Future[Any] | None:
    """The agent's in-flight training job, or None."""
    return agent.training_future


def training_status(agent: Any) -> dict[str, Any]:
    """The agent's training status as a JSON-able dict (empty if it has none)."""
    status = agent.training_status()
    to_dict = getattr(status, "to_dict", None)
    return dict(to_dict()) if callable(to_dict) else {"status": repr(status)}


def cancel_training(agent: Any) -> None:
    """Cancel the agent's in-flight training without closing the agent.

    Why not ``agent.close()``: an agent the user passed in stays theirs to use
    after an aborted run; only the job that run started is cancelled. Safe on
    the RunEngine loop (cancelling never waits).
    """
    agent.cancel_training()


def points_in(points: Sequence[Sequence[float]] | np.ndarray, dim: int) -> np.ndarray:
    """``points`` as an ``(n, dim)`` float array."""
    return np.asarray(points, dtype=np.float64).reshape(-1, dim)
