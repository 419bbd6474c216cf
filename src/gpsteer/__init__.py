"""gpsteer: Gaussian-process steering of experiments at synchrotron beamlines.

Users hold an :class:`Agent`::

    from gpsteer import Agent
    agent = Agent(bounds=[(0, 10), (0, 5)], acquisition="variance")
    agent.tell(X, y)
    suggestion = agent.ask(4)

Names are imported on first use, so ``import gpsteer`` (e.g. by a simulated IOC
subprocess) does not pay for torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from gpsteer import errors
from gpsteer.errors import GpsteerError

if TYPE_CHECKING:
    from gpsteer.acquisition import MotionCost
    from gpsteer.agent import Agent, AgentState, ModelVersion, Suggestion, TrainingSchedule
    from gpsteer.catalog import replay

__all__ = [
    "Agent",
    "AgentState",
    "GpsteerError",
    "ModelVersion",
    "MotionCost",
    "Suggestion",
    "TrainingSchedule",
    "errors",
    "replay",
]

_LAZY = {
    "Agent": "gpsteer.agent",
    "AgentState": "gpsteer.agent",
    "ModelVersion": "gpsteer.agent",
    "Suggestion": "gpsteer.agent",
    "TrainingSchedule": "gpsteer.agent",
    "MotionCost": "gpsteer.acquisition",
    "replay": "gpsteer.catalog",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'gpsteer' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
