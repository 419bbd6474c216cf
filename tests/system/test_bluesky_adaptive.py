"""The agent under bluesky-adaptive 1.0's and blop 1.2's own plans (the real packages, a
real RunEngine).

``bluesky_adaptive.plans.optimize`` asks the optimizer for suggestions, measures them
with its ``list_scan``, turns the run into outcomes with an evaluation function and
ingests them: outcomes carry an ``_id`` and the outcome's value, no positions. What a
user needs: ``dimension_names`` equal to the actuators' names, and ``value_name`` equal
to the outcome's key.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest
from bluesky import RunEngine
from bluesky_adaptive.plans import optimize
from bluesky_adaptive.protocols import (
    CanRegisterSuggestions,
    OptimizationProblem,
    Optimizer,
    TrialFaultAware,
)
from ophyd.sim import SynAxis, SynSignal

from gpsteer import Agent
from gpsteer.errors import InputError
from gpsteer.plans.bluesky_adaptive import optimization_problem

pytestmark = pytest.mark.system

BOUNDS = [(-1.0, 1.0), (-1.0, 1.0)]
#: where both packages' list_scan records the order it measured the suggestions in
ORDER_KEY = "blop_acquisition_order"


def peak(x: float, y: float) -> float:
    return float(np.exp(-((x - 0.4) ** 2 + (y + 0.3) ** 2) / 0.1))


class Beamline:
    """Two simulated motors, a detector that reads the peak where they stand, and the
    documents of every run (what an evaluation function reads from a catalog)."""

    def __init__(self) -> None:
        self.sx, self.sy = SynAxis(name="sample_x"), SynAxis(name="sample_y")
        self.det = SynSignal(
            func=lambda: peak(self.sx.readback.get(), self.sy.readback.get()), name="det"
        )
        self.documents: list[tuple[str, dict]] = []
        self.RE = RunEngine({})
        self.RE.subscribe(lambda name, doc: self.documents.append((name, doc)))

    def evaluate(self, uid: str, suggestions: Sequence[Mapping[str, Any]]) -> list[dict]:
        """Outcomes of run ``uid``: its events in the order its start document says."""
        start = next(d for n, d in self.documents if n == "start" and d["uid"] == uid)
        streams = {
            d["uid"] for n, d in self.documents if n == "descriptor" and d["run_start"] == uid
        }
        events = [d for n, d in self.documents if n == "event" and d["descriptor"] in streams]
        order = start[ORDER_KEY]
        assert len(events) == len(order) == len(suggestions)
        return [{"_id": i, "det": e["data"]["det"]} for i, e in zip(order, events, strict=True)]

    def positions_measured(self) -> list[tuple[float, float]]:
        """Motor positions of every event of the acquisition runs (the list_scans)."""
        scans = {
            d["uid"] for n, d in self.documents if n == "start" and "blop_acquisition_order" in d
        }
        streams = {
            d["uid"] for n, d in self.documents if n == "descriptor" and d["run_start"] in scans
        }
        return [
            (d["data"]["sample_x"], d["data"]["sample_y"])
            for n, d in self.documents
            if n == "event" and d["descriptor"] in streams
        ]

    def problem(self, agent: Agent) -> OptimizationProblem:
        return optimization_problem(agent, [self.sx, self.sy], [self.det], self.evaluate)


def named_agent(**options: Any) -> Agent:
    return Agent(
        BOUNDS,
        dimension_names=["sample_x", "sample_y"],
        value_name="det",
        seed=0,
        training="inline",
        **options,
    )


def test_the_agent_is_an_optimizer_of_the_package() -> None:
    agent = named_agent()
    assert isinstance(agent, Optimizer)
    assert isinstance(agent, CanRegisterSuggestions) and isinstance(agent, TrialFaultAware)


@pytest.mark.parametrize("package", ["bluesky_adaptive", "blop"])
def test_optimize_measures_what_the_agent_suggested_and_the_agent_learns_it(package: str) -> None:
    """blop 1.2 is the same plans and protocols as bluesky-adaptive 1.0, renamed."""
    plans = importlib.import_module(f"{package}.plans")
    protocols = importlib.import_module(f"{package}.protocols")
    beamline = Beamline()
    agent = named_agent(acquisition="ucb")
    assert isinstance(agent, protocols.Optimizer)
    beamline.RE(plans.optimize(beamline.problem(agent), iterations=8, n_points=2))
    assert agent.n == 16 and not agent.optimizer.pending  # every suggestion ingested
    # each reading the agent holds is the detector's at the position it holds
    truth = np.array([peak(x, y) for x, y in agent.X])
    np.testing.assert_allclose(agent.y, truth, rtol=1e-12)
    # and those positions are where the motors went, in the package's list_scans
    moved = np.array(beamline.positions_measured())
    np.testing.assert_allclose(
        moved[np.lexsort(moved.T)], agent.X[np.lexsort(agent.X.T)], atol=1e-12
    )
    ((point_id, parameters, outcomes),) = agent.get_best_points()
    assert point_id in agent.point_ids and set(parameters) == {"sample_x", "sample_y"}
    assert outcomes["det"] == pytest.approx(agent.y.max())


def test_a_failed_acquisition_leaves_nothing_pending_and_loses_nothing() -> None:
    beamline = Beamline()
    agent = named_agent()
    beamline.RE(optimize(beamline.problem(agent), iterations=2, n_points=2))

    def broken(uid: str, suggestions: Sequence[Mapping[str, Any]]) -> list[dict]:
        raise RuntimeError("the detector's file was not written")

    failing = optimization_problem(agent, [beamline.sx, beamline.sy], [beamline.det], broken)
    with pytest.raises(RuntimeError, match="file was not written"):
        beamline.RE(optimize(failing, iterations=1, n_points=2))
    assert agent.n == 4 and not agent.optimizer.pending


def test_default_names_that_are_not_the_motors_names_fail_before_anything_moves() -> None:
    beamline = Beamline()
    agent = Agent(BOUNDS, seed=0, training="inline")  # x0, x1 and "y"
    with pytest.raises(InputError, match=r"dimension_names=\['sample_x', 'sample_y'\]"):
        beamline.problem(agent)
    # what the package alone says, mid-plan, after its run has started
    bare = OptimizationProblem(
        optimizer=agent, actuators=[beamline.sx, beamline.sy], sensors=[beamline.det],
        evaluation_function=beamline.evaluate,
    )  # fmt: skip
    with pytest.raises(KeyError, match="sample_x"):
        beamline.RE(optimize(bare, iterations=1, n_points=1))
    named = named_agent()
    (suggestion,) = named.suggest(1)
    with pytest.raises(InputError, match="value_name"):
        named.ingest([{"_id": suggestion["_id"], "intensity": 1.0}])
