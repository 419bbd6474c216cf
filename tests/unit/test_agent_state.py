"""Agent state: JSON-able metadata plus arrays that rebuild the same posterior."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gpsteer import Agent, AgentState, MotionCost, TrainingSchedule
from gpsteer.acquisition import ExpectedImprovement, Target
from gpsteer.errors import ConfigurationError, InputError, ShapeError
from gpsteer.gp import Matern, ScaleKernel

BOUNDS = [(-1.0, 1.0), (0.0, 5.0)]
LO, HI = np.array(BOUNDS).T


def field(X: np.ndarray) -> np.ndarray:
    return np.exp(np.sin(2 * X[:, 0]) + 0.3 * X[:, 1])  # positive, for the log transform


def uniform(n: int, seed: int) -> np.ndarray:
    return LO + np.random.default_rng(seed).uniform(size=(n, 2)) * (HI - LO)


def grown_agent(*, noise: bool = False, **kwargs) -> Agent:
    """An agent told data in several batches, with scheduled trainings in between."""
    kwargs.setdefault("seed", 5)
    kwargs.setdefault(
        "train_schedule",
        TrainingSchedule(first=6, factor=1.5, n_starts=2, n_starts_warm=1, max_iter=30),
    )
    agent = Agent(BOUNDS, **kwargs)
    rng = np.random.default_rng(0)
    for k, size in enumerate((3, 4, 5, 8)):
        X = uniform(size, 10 + k)
        y = field(X) * (1 + 0.02 * rng.standard_normal(size))
        agent.tell(X, y, noise_variance=(0.02 * y) ** 2 if noise else None)
    return agent


def assert_same_predictions(a: Agent, b: Agent) -> None:
    Xq = uniform(200, 99)
    pa, pb = a.predict(Xq), b.predict(Xq)
    scale = np.abs(pa.mean).max()
    np.testing.assert_allclose(pb.mean, pa.mean, rtol=1e-10, atol=1e-10 * scale)
    np.testing.assert_allclose(pb.variance, pa.variance, rtol=1e-10, atol=1e-10 * scale**2)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"noise": True, "output_transform": "log"},
        {"acquisition": ExpectedImprovement(maximize=False, xi=0.01), "kernel": "rbf"},
        {"acquisition": Target(1.0, 2.0), "mean": "zero", "noise": True},
    ],
    ids=["defaults", "log-measured-noise", "ei-rbf", "target-zero-mean"],
)
def test_round_trip_reproduces_predictions(options):
    agent = grown_agent(**options)
    assert agent.training_status().n_accepted >= 1  # hyperparameters moved from defaults
    state = agent.state()
    text = json.dumps(state.metadata)  # JSON-able
    restored = Agent.from_state(AgentState(json.loads(text), dict(state.arrays)))
    assert_same_predictions(agent, restored)
    assert restored.configuration() == agent.configuration()
    assert restored.model_version == agent.model_version
    np.testing.assert_array_equal(restored.X, agent.X)
    np.testing.assert_array_equal(restored.y, agent.y)


def test_restored_agent_continues_identically():
    agent = grown_agent()
    restored = Agent.from_state(agent.state())
    a, b = agent.ask(2), restored.ask(2)
    np.testing.assert_allclose(b.points, a.points, atol=1e-6)
    X = uniform(4, 50)
    for ag in (agent, restored):  # crosses the next scheduled training (at 30 points)
        ag.tell(X, field(X))
    assert_same_predictions(agent, restored)


def test_save_and_load_file(tmp_path):
    cost = MotionCost(speeds=[0.5, 2.0], overhead_s=0.3)
    agent = grown_agent(motion_cost=cost, candidates=uniform(40, 3))
    agent.suggest(2)  # leaves two pending points
    path = tmp_path / "agent.npz"
    agent.state().save(path)
    restored = Agent.from_state(AgentState.load(path))
    assert_same_predictions(agent, restored)
    assert restored.configuration()["motion_cost"] == cost.configuration()
    assert restored.state().metadata["pending"] == agent.state().metadata["pending"]
    # Ids keep counting where they stopped.
    assert restored.suggest(1)[0]["_id"] == 2


def test_objects_a_state_cannot_hold_must_be_passed_again():
    kernel = ScaleKernel(Matern(nu=1.5))
    agent = grown_agent(kernel=kernel, constraints=[lambda X: 1.0 - X[:, 0] ** 2])
    state = agent.state()
    assert "custom" in state.metadata["configuration"]["kernel"]
    with pytest.raises(ConfigurationError, match="kernel") as info:
        Agent.from_state(state)
    assert "constraints" in str(info.value)
    restored = Agent.from_state(
        state, kernel=ScaleKernel(Matern(nu=1.5)), constraints=[lambda X: 1.0 - X[:, 0] ** 2]
    )
    assert_same_predictions(agent, restored)


def test_state_of_an_empty_agent_round_trips():
    agent = Agent(BOUNDS, seed=1)
    restored = Agent.from_state(agent.state())
    assert restored.n == 0
    np.testing.assert_array_equal(restored.ask(3).points, agent.ask(3).points)


def test_bad_states_are_rejected(tmp_path):
    state = grown_agent(train_schedule="never").state()
    bad = AgentState({**state.metadata, "format_version": 99}, state.arrays)
    with pytest.raises(ConfigurationError, match="version"):
        Agent.from_state(bad)
    with pytest.raises(InputError):
        Agent.from_state({"metadata": {}})
    path = tmp_path / "junk.npz"
    path.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="Cannot read"):
        AgentState.load(path)


def test_a_model_grown_one_point_at_a_time_is_restored_exactly():
    """The GP re-standardises by itself while it grows (the spread of the outputs changes
    by more than 2x); the state records each step, so the restored scaling is the same."""
    agent = Agent(BOUNDS, seed=3, train_schedule="never")
    X = uniform(24, 7)
    y = np.geomspace(1.0, 1e4, 24) * (1 + 0.1 * np.sin(7 * X[:, 0]))
    for k in range(len(y)):
        agent.tell(X[k : k + 1], y[k : k + 1])
    steps = agent.state().metadata["standardized_at"]
    assert len(steps) > 2  # re-standardised inside the GP, not only at the first point
    assert steps == list(agent.gp.standardized_at)
    restored = Agent.from_state(agent.state())
    assert restored.gp.standardized_at == agent.gp.standardized_at
    assert restored.gp.y_scale == agent.gp.y_scale
    assert_same_predictions(agent, restored)


def test_a_version_1_state_still_loads():
    agent = Agent(BOUNDS, seed=2, train_schedule="never")
    X = uniform(12, 8)
    agent.tell(X, field(X))  # one batch: standardised once, as version 1 recorded it
    state = agent.state()
    metadata = {k: v for k, v in state.metadata.items() if k != "standardized_at"}
    metadata.update(format_version=1, n_first=12, n_scale=12)
    restored = Agent.from_state(AgentState(metadata, dict(state.arrays)))
    assert_same_predictions(agent, restored)


def test_measurement_ids_are_the_agents_own():
    agent = Agent(BOUNDS, seed=0, train_schedule="never")
    X = uniform(3, 1)
    agent.tell(X, field(X), ids=["a", 7, None])
    assert agent.point_ids == ["a", 7, None]
    with pytest.raises(ShapeError, match="ids must name each"):
        agent.tell(X, field(X), ids=["only one"])
    assert agent.n == 3
    assert Agent.from_state(agent.state()).point_ids == ["a", 7, None]
