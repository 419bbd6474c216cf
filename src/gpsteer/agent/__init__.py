"""Layer 4: the :class:`Agent` users hold (tell / ask / predict / train / state).

Also its typed results (:class:`Suggestion`, :class:`ModelVersion`,
:class:`RunResult`), its saveable :class:`AgentState`, output transforms, the
retraining schedule, and the rules both autonomous loops follow
(:class:`StoppingRules`, :class:`StopReason`, :class:`Progress`).

Names are imported on first use, so the torch-free parts (``gpsteer.agent.stopping``,
``gpsteer.agent.validation``) import without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gpsteer._names import lazy_names

if TYPE_CHECKING:
    from gpsteer.agent.agent import Agent
    from gpsteer.agent.progress import Progress
    from gpsteer.agent.results import ModelVersion, RunResult, Suggestion
    from gpsteer.agent.retraining import TrainingSchedule
    from gpsteer.agent.state import AgentState
    from gpsteer.agent.stopping import StoppingRules, StopReason
    from gpsteer.agent.transforms import IdentityTransform, LogTransform, OutputTransform

__all__ = [
    "Agent",
    "AgentState",
    "IdentityTransform",
    "LogTransform",
    "ModelVersion",
    "OutputTransform",
    "Progress",
    "RunResult",
    "StopReason",
    "StoppingRules",
    "Suggestion",
    "TrainingSchedule",
]

__getattr__, __dir__ = lazy_names(
    __name__,
    {
        "Agent": "gpsteer.agent.agent",
        "AgentState": "gpsteer.agent.state",
        "IdentityTransform": "gpsteer.agent.transforms",
        "LogTransform": "gpsteer.agent.transforms",
        "ModelVersion": "gpsteer.agent.results",
        "OutputTransform": "gpsteer.agent.transforms",
        "Progress": "gpsteer.agent.progress",
        "RunResult": "gpsteer.agent.results",
        "StopReason": "gpsteer.agent.stopping",
        "StoppingRules": "gpsteer.agent.stopping",
        "Suggestion": "gpsteer.agent.results",
        "TrainingSchedule": "gpsteer.agent.retraining",
    },
)
