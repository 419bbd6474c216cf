"""The agent as a gest-api ``Generator`` (the ``suggest`` / ``ingest`` standard).

gest-api describes a problem by its VOCS: the variables (here: the sample's axes and
their bounds), objectives, constraints, constants and observables. gpsteer maps one
output: its objective decides the acquisition unless one is given: ``EXPLORE`` is
mapping (the agent's default, ``map``), ``MAXIMIZE`` is ``ucb`` and ``MINIMIZE`` is
``lcb``. Needs ``pip install gest-api`` (in gpsteer's ``dev`` and ``gest`` extras).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gest_api.generator import Generator
from gest_api.vocs import VOCS, ContinuousVariable, MaximizeObjective, MinimizeObjective

from gpsteer.agent.agent import Agent
from gpsteer.agent.bluesky_adaptive import ID_KEY

__all__ = ["AgentGenerator"]


class AgentGenerator(Generator):
    """A gest-api ``Generator`` that suggests with a gpsteer :class:`Agent`.

    ``AgentGenerator(vocs, **agent_options)``: the VOCS's variables (continuous, with
    finite domains) are the agent's dimensions in their order; its single objective (or,
    without one, its single observable) is the measured value. Other keyword arguments
    go to :class:`Agent` (``seed=``, ``training=``, ``acquisition=``...). Suggestions
    carry an ``"_id"`` and the VOCS's constants; ``ingest`` takes results with the
    ``"_id"`` of a suggestion, or the variables of a point measured elsewhere (no
    ``"_id"``). :attr:`agent` is the agent itself (maps, state, replay).
    """

    returns_id = True

    def __init__(self, vocs: VOCS, **agent_options: Any) -> None:
        super().__init__(vocs)
        self.vocs = vocs
        value = (vocs.objective_names or vocs.observable_names)[0]
        objective = vocs.objectives.get(value)
        if isinstance(objective, MaximizeObjective):
            agent_options.setdefault("acquisition", "ucb")
        elif isinstance(objective, MinimizeObjective):
            agent_options.setdefault("acquisition", "lcb")
        self.agent = Agent(
            bounds=[tuple(b) for b in vocs.bounds],
            dimension_names=vocs.variable_names,
            value_name=value,
            **agent_options,
        )

    def _validate_vocs(self, vocs: VOCS) -> None:
        if not vocs.variables:
            raise ValueError("The VOCS defines no variables; give the axes and their bounds.")
        for name, variable in vocs.variables.items():
            finite = isinstance(variable, ContinuousVariable) and all(
                abs(v) < float("inf") for v in variable.domain
            )
            if not finite:
                raise ValueError(
                    f"Variable {name!r} must be continuous with a finite domain [min, max]; "
                    "gpsteer's agent moves over a box."
                )
        outputs = vocs.objective_names or vocs.observable_names
        if len(outputs) != 1:
            raise ValueError(
                f"gpsteer's agent models one output; the VOCS has objectives "
                f"{vocs.objective_names} and observables {vocs.observable_names}. Give "
                "exactly one objective (or one observable)."
            )
        if vocs.constraints:
            raise ValueError(
                f"gpsteer's agent takes no output constraints ({vocs.constraint_names}); "
                "restrict the positions with Agent(constraints=...) instead."
            )

    def suggest(self, num_points: int | None = None) -> list[dict]:
        """``num_points`` (default 1) points: the variables, the constants and ``"_id"``."""
        constants = {name: c.value for name, c in self.vocs.constants.items()}
        return [{**p, **constants} for p in self.agent.suggest(num_points)]

    def ingest(self, results: Sequence[Mapping[str, Any]]) -> None:
        """Tell the agent evaluated points; an ``"_id"`` it did not suggest (or already
        took in) raises ``ValueError`` before any point is taken in."""
        pending = self.agent.optimizer.pending
        for i, r in enumerate(results):
            if ID_KEY in r and r[ID_KEY] not in pending:
                raise ValueError(
                    f"Result {i} has '_id' {r[ID_KEY]!r}, which this generator did not "
                    "suggest or has already taken in; drop the '_id' of points measured "
                    "elsewhere."
                )
        value = self.agent.value_name
        keep = {*self.vocs.variable_names, value, f"{value}_variance", ID_KEY}
        self.agent.ingest([{k: v for k, v in r.items() if k in keep} for r in results])

    def finalize(self) -> None:
        """Stop the agent's background training (the agent and its data stay usable)."""
        self.agent.close()
