"""Layer 4: the :class:`Agent` users hold (tell / ask / predict / train / state).

Also its typed results (:class:`Suggestion`, :class:`ModelVersion`,
:class:`RunResult`), its saveable :class:`AgentState`, output transforms, the
retraining schedule, and the rules both autonomous loops follow
(:class:`StoppingRules`, :class:`StopReason`, :class:`Progress`).

Names are imported on first use, so the torch-free parts (``gpsteer.agent.stopping``,
``gpsteer.agent.validation``) import without torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

_LAZY = {
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
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'gpsteer.agent' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
