"""The scientist in the loop: requested points, forbidden boxes, a stop request."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from gpsteer import Agent, AgentState
from gpsteer.agent.stopping import StoppingRules, StopReason
from gpsteer.errors import InputError

BOUNDS = [(0.0, 2.0), (0.0, 1.0)]


def field(X: np.ndarray) -> np.ndarray:
    return np.sin(3 * X[:, 0]) + X[:, 1]


def told_agent(n: int = 15) -> Agent:
    X = np.random.default_rng(0).uniform([0, 0], [2, 1], size=(n, 2))
    agent = Agent(BOUNDS, seed=0, train_schedule="never")
    agent.tell(X, field(X))
    return agent


def test_requested_points_come_first_in_order_and_say_who_asked() -> None:
    agent = told_agent()
    agent.measure_next([[0.1, 0.9], [1.9, 0.1]], origin="alice")
    first = agent.ask(1)
    np.testing.assert_array_equal(first.points, [[0.1, 0.9]])
    assert first.acquisition == "requested" and first.terms[0]["reason"] == "requested"
    assert "requested by alice at" in first.message
    assert np.isfinite(first.predicted_mean).all()  # the model's prediction there
    mixed = agent.ask(3)  # the second request, then two of the acquisition's
    np.testing.assert_array_equal(mixed.points[0], [1.9, 0.1])
    assert len(mixed.points) == 3 and np.isnan(mixed.values[0])
    assert np.isfinite(mixed.values[1:]).all()
    assert agent.ask(1).acquisition == "map"  # nothing requested any more


def test_no_point_is_suggested_in_a_forbidden_box_until_it_is_allowed() -> None:
    agent = told_agent()
    box = agent.forbid([0.0, 0.0], [1.0, 1.0], origin="bob")
    suggestion = agent.ask(4)
    assert np.all(suggestion.points[:, 0] >= 1.0)  # the boundary is allowed
    assert "forbidden box [0..1, 0..1] by bob at" in suggestion.message
    assert agent.forbidden == [box]
    agent.allow(box)
    assert "allowed box" in agent.ask(1).message and agent.forbidden == []


def test_the_first_design_avoids_a_forbidden_box_too() -> None:
    agent = Agent(BOUNDS, seed=0)
    agent.forbid([1.0, 0.0], [2.0, 1.0])
    assert np.all(agent.ask(6).points[:, 0] <= 1.0)


def test_requests_inside_a_forbidden_box_are_refused_or_dropped() -> None:
    agent = told_agent()
    agent.measure_next([[1.5, 0.5]])
    agent.forbid([1.0, 0.0], [2.0, 1.0])  # drops the request inside it
    assert agent.ask(1).acquisition == "map"
    with pytest.raises(InputError, match="inside the forbidden box"):
        agent.measure_next([[1.2, 0.2]])


@pytest.mark.parametrize(
    ("lo", "hi", "match"),
    [
        ([0.0], [1.0, 1.0], "2 finite value"),
        ([1.0, 0.0], [0.5, 1.0], "lo <= hi"),
        ([-1.0, -1.0], [3.0, 2.0], "whole space"),
    ],
)
def test_bad_boxes_are_refused(lo, hi, match) -> None:
    with pytest.raises(InputError, match=match):
        told_agent().forbid(lo, hi)


def test_a_stop_request_is_taken_once_by_the_stopping_rules() -> None:
    agent = told_agent()
    rules = StoppingRules(max_points=100)
    agent.stop_after_current(origin="carol")
    assert rules.model_reason(agent, None)[0] is StopReason.REQUESTED
    assert rules.model_reason(agent, None)[0] is None  # a resumed run goes on


def test_forbidden_boxes_survive_a_state_round_trip() -> None:
    agent = told_agent()
    agent.forbid([0.0, 0.5], [2.0, 1.0], origin="dave")
    state = agent.state()
    restored = Agent.from_state(AgentState(json.loads(json.dumps(state.metadata)), state.arrays))
    assert [b.to_dict() for b in restored.forbidden] == [b.to_dict() for b in agent.forbidden]
    assert np.all(restored.ask(3).points[:, 1] <= 0.5)


def test_interventions_from_another_thread_reach_the_next_decision() -> None:
    agent = told_agent()
    threads = [
        threading.Thread(
            target=agent.measure_next, args=([[0.2 * k, 0.5]],), kwargs={"origin": f"t{k}"}
        )
        for k in range(1, 6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    taken = agent.ask(5)
    assert sorted(taken.points[:, 0].round(6).tolist()) == [0.2, 0.4, 0.6, 0.8, 1.0]
    assert taken.acquisition == "requested"
