"""An agent as the optimizer of bluesky-adaptive's own plans, checked before anything moves.

``bluesky_adaptive.plans.optimize`` routes each suggestion's keys to the actuators of
the same names and ingests outcomes by the ``_id`` of the suggestion they answer. An
agent whose ``dimension_names`` are not the actuators' names fails there, mid-plan,
with a bare ``KeyError``; :func:`optimization_problem` says so before the first move.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from gpsteer.agent import Agent
from gpsteer.errors import ConfigurationError, InputError

__all__ = ["optimization_problem"]


def optimization_problem(
    agent: Agent,
    actuators: Sequence[Any],
    sensors: Sequence[Any],
    evaluation_function: Callable[..., Any],
    acquisition_plan: Callable[..., Any] | None = None,
) -> Any:
    """A ``bluesky_adaptive.protocols.OptimizationProblem`` for ``agent``, for
    ``RE(optimize(problem, iterations=..., n_points=...))``.

    Raises :class:`~gpsteer.errors.InputError` when the agent's ``dimension_names`` are
    not the actuators' names (``Agent(..., dimension_names=[m.name for m in
    actuators])``), and :class:`~gpsteer.errors.ConfigurationError` when bluesky-adaptive
    is not installed.
    """
    try:
        from bluesky_adaptive.protocols import OptimizationProblem
    except ImportError as exc:
        raise ConfigurationError(
            "bluesky-adaptive is not installed: pip install bluesky-adaptive==1.0.0"
        ) from exc
    names = [getattr(a, "name", None) for a in actuators]
    missing = [d for d in agent.dimension_names if d not in names]
    if missing:
        raise InputError(
            f"The agent's dimension_names {list(agent.dimension_names)} must be names of the "
            f"actuators {names}; {missing} is not. Create the agent with "
            f"Agent(..., dimension_names={names[: agent.dim]!r}) (in the order of its bounds)."
        )
    return OptimizationProblem(
        optimizer=agent,
        actuators=list(actuators),
        sensors=list(sensors),
        evaluation_function=evaluation_function,
        acquisition_plan=acquisition_plan,
    )
