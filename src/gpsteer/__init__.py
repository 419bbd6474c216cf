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

from typing import TYPE_CHECKING

from gpsteer import errors
from gpsteer._names import lazy_names, names_of
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

__getattr__, __dir__ = lazy_names(
    __name__,
    {
        **names_of(
            "gpsteer.agent",
            ["Agent", "AgentState", "ModelVersion", "Suggestion", "TrainingSchedule"],
        ),
        "MotionCost": "gpsteer.acquisition",
        "replay": "gpsteer.catalog",
    },
)
