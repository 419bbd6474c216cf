"""Layer 4: the :class:`Agent` users hold (tell / ask / predict / train / state).

Also its typed results (:class:`Suggestion`, :class:`ModelVersion`,
:class:`RunResult`), its saveable :class:`AgentState`, output transforms and the
retraining schedule.
"""

from gpsteer.agent.agent import Agent
from gpsteer.agent.results import ModelVersion, RunResult, Suggestion
from gpsteer.agent.retraining import TrainingSchedule
from gpsteer.agent.state import AgentState
from gpsteer.agent.transforms import IdentityTransform, LogTransform, OutputTransform

__all__ = [
    "Agent",
    "AgentState",
    "IdentityTransform",
    "LogTransform",
    "ModelVersion",
    "OutputTransform",
    "RunResult",
    "Suggestion",
    "TrainingSchedule",
]
