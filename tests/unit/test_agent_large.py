"""An agent whose data outgrow the exact GP switches to the neighbour model by itself."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gpsteer import Agent, AgentState, TrainingSchedule
from gpsteer.errors import InputError
from gpsteer.gp import GaussianProcess
from gpsteer.gp.neighbours import NeighbourGP

BOUNDS = [(-1.0, 1.0), (0.0, 5.0)]
LO, HI = np.array(BOUNDS).T
SCHEDULE = TrainingSchedule(first=20, factor=2.0, n_starts=2, n_starts_warm=1, max_iter=20)


def field(X: np.ndarray) -> np.ndarray:
    return np.sin(2 * X[:, 0]) + np.where(X[:, 1] > 2.5, 1.0, 0.0)


def uniform(n: int, seed: int) -> np.ndarray:
    return LO + np.random.default_rng(seed).uniform(size=(n, 2)) * (HI - LO)


def grown_agent(exact_limit: int | None = 60, **kwargs) -> Agent:
    agent = Agent(BOUNDS, seed=3, train_schedule=SCHEDULE, exact_limit=exact_limit, **kwargs)
    for k, size in enumerate((15, 15, 30, 40)):
        X = uniform(size, k)
        agent.tell(X, field(X))
    return agent


def test_it_stays_exact_up_to_the_limit_and_switches_beyond_it() -> None:
    agent = Agent(BOUNDS, seed=0, train_schedule=SCHEDULE, exact_limit=60)
    X = uniform(60, 1)
    agent.tell(X, field(X))
    assert agent.model_kind == "exact" and type(agent.gp) is GaussianProcess
    version = agent.model_version.version
    agent.tell(uniform(1, 2), field(uniform(1, 2)))
    assert agent.model_kind == "neighbours" and isinstance(agent.gp, NeighbourGP)
    assert agent.model_version.version == version + 1  # a new model: a new version
    assert agent.snapshot()["model"] == "neighbours"
    assert agent.configuration()["exact_limit"] == 60


def test_without_a_limit_it_stays_exact() -> None:
    agent = grown_agent(exact_limit=None)
    assert agent.n == 100 and agent.model_kind == "exact"


def test_the_neighbour_model_trains_decides_and_maps() -> None:
    agent = grown_agent()
    assert agent.model_kind == "neighbours"
    assert agent.training_status().n_accepted >= 1  # trained at 20, 40 and 80 points
    result = agent.train()
    assert np.isfinite(result.log_likelihood_after) and result.n_points == 100
    suggestion = agent.ask(3)
    assert suggestion.points.shape == (3, 2)
    assert np.all((suggestion.points >= LO) & (suggestion.points <= HI))
    assert np.all(np.isfinite(suggestion.predicted_std))
    Xq = uniform(200, 9)
    error = agent.predict(Xq).mean - field(Xq)
    assert np.sqrt(np.mean(error**2)) < 0.5 * np.std(field(Xq))  # it has learned the field
    assert agent.map_check is not None and agent.map_check.n_points == 100


def test_a_state_rebuilds_the_neighbour_model_exactly() -> None:
    agent = grown_agent()
    state = agent.state()
    restored = Agent.from_state(AgentState(json.loads(json.dumps(state.metadata)), state.arrays))
    assert restored.model_kind == "neighbours"
    Xq = uniform(150, 7)
    a, b = agent.predict(Xq), restored.predict(Xq)
    np.testing.assert_allclose(b.mean, a.mean, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(b.variance, a.variance, rtol=1e-10, atol=1e-10)
    assert restored.model_version == agent.model_version
    np.testing.assert_allclose(restored.ask(2).points, agent.ask(2).points, atol=1e-6)


def test_replay_from_a_snapshot_rebuilds_it_too() -> None:
    agent = grown_agent()
    restored = Agent.from_snapshot(agent.configuration(), agent.snapshot(), agent.X, agent.y)
    assert restored.model_kind == "neighbours"
    Xq = uniform(50, 4)
    np.testing.assert_allclose(restored.predict(Xq).mean, agent.predict(Xq).mean, atol=1e-10)


def test_a_state_from_before_the_limit_existed_stays_exact() -> None:
    agent = grown_agent(exact_limit=None)
    state = agent.state()
    metadata = json.loads(json.dumps(state.metadata))
    del metadata["configuration"]["exact_limit"]
    restored = Agent.from_state(AgentState(metadata, state.arrays))
    assert restored.model_kind == "exact" and restored.configuration()["exact_limit"] is None


@pytest.mark.parametrize("limit", [0, -5, 2.5, "3000"])
def test_a_bad_limit_is_refused(limit) -> None:
    with pytest.raises(InputError, match="exact_limit must be a positive integer or None"):
        Agent(BOUNDS, exact_limit=limit)


def test_interpolations_held_out_residuals_on_a_sample_are_those_of_all_points() -> None:
    from gpsteer.agent.map_check import local_linear_residuals

    U = np.random.default_rng(4).random((80, 2))
    y = np.sin(5 * U[:, 0]) + U[:, 1] ** 2
    at = np.array([0, 13, 79])
    np.testing.assert_allclose(local_linear_residuals(U, y, at), local_linear_residuals(U, y)[at])
