"""The pieces of the pipelined plan that need no RunEngine: which agents can decide
during a move, and that a decision with the point moved to as pending avoids it."""

from __future__ import annotations

from typing import Any

import numpy as np

from gpsteer import Agent
from gpsteer.plans.execution import takes_pending


class _NoPending:
    def ask(self, n: int = 1, *, current_position: Any = None) -> None: ...


class _Keywords:
    def ask(self, n: int = 1, **kwargs: Any) -> None: ...


def test_only_agents_whose_ask_takes_pending_are_pipelined() -> None:
    assert takes_pending(Agent(bounds=[(0.0, 1.0)]))
    assert takes_pending(_Keywords())
    assert not takes_pending(_NoPending())
    assert not takes_pending(object())  # no ask at all: the plan's own check names it


def test_the_default_agent_never_chooses_the_point_being_measured() -> None:
    rng = np.random.default_rng(4)
    X = rng.uniform(0.0, 1.0, size=(30, 2))
    y = np.where(X[:, 0] > 0.5, 1.0, 0.0) + 0.1 * X[:, 1]
    agent = Agent(bounds=[(0.0, 1.0), (0.0, 1.0)], seed=0)
    agent.tell(X, y)
    agent.train()
    moving_to = agent.ask(1).points  # what a decision in series would pick
    ahead = agent.ask(1, current_position=moving_to[0], pending=moving_to).points
    assert np.linalg.norm(ahead[0] - moving_to[0]) > 0.02
