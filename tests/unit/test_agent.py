"""The Agent: tell / ask / predict, bad input, retraining schedule, and a behaviour test."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gpsteer import Agent, MotionCost, Suggestion, TrainingSchedule
from gpsteer.acquisition import OptimizerSettings, Target
from gpsteer.errors import (
    ConfigurationError,
    InputError,
    NotFittedError,
    ShapeError,
    UnknownNameError,
)

BOUNDS = [(0.0, 2.0), (0.0, 3.0)]
LO, HI = np.array(BOUNDS).T


def field(X: np.ndarray) -> np.ndarray:
    return np.sin(3 * X[:, 0]) * np.cos(2 * X[:, 1]) + 0.5 * X[:, 0]


def uniform(n: int, seed: int) -> np.ndarray:
    return LO + np.random.default_rng(seed).uniform(size=(n, 2)) * (HI - LO)


def small_agent(**kwargs) -> Agent:
    kwargs.setdefault("seed", 0)
    kwargs.setdefault("train_schedule", "never")
    agent = Agent(BOUNDS, **kwargs)
    X = uniform(10, 1)
    agent.tell(X, field(X))
    return agent


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"bounds": [(1.0, 0.0)]}, InputError),
        ({"bounds": [(0.0, 0.0), (0.0, 1.0)]}, InputError),
        ({"bounds": [0.0, 1.0]}, ShapeError),
        ({"bounds": [(0.0, np.inf)]}, InputError),
        ({"bounds": BOUNDS, "acquisition": "expected improvement"}, UnknownNameError),
        ({"bounds": BOUNDS, "output_transform": "sqrt"}, UnknownNameError),
        ({"bounds": BOUNDS, "kernel": "matern"}, UnknownNameError),
        ({"bounds": BOUNDS, "noise": "loud"}, InputError),
        ({"bounds": BOUNDS, "train_schedule": "sometimes"}, UnknownNameError),
        ({"bounds": BOUNDS, "candidates": np.empty((0, 2))}, InputError),
        ({"bounds": BOUNDS, "candidates": np.zeros((3, 3))}, ShapeError),
        ({"bounds": BOUNDS, "dimension_names": ["a"]}, InputError),
        ({"bounds": BOUNDS, "value_name": "x0"}, InputError),
        ({"bounds": BOUNDS, "motion_cost": MotionCost([1.0], 1.0)}, ConfigurationError),
        ({"bounds": BOUNDS, "constraints": [3]}, InputError),
    ],
)
def test_bad_construction_raises(kwargs, error):
    with pytest.raises(error):
        Agent(**kwargs)


def _snapshot(agent: Agent) -> str:
    return json.dumps(agent.state().metadata, sort_keys=True) + repr(agent.X) + repr(agent.y)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda a: a.tell([[0.5, 0.5]], [np.nan]), InputError),
        (lambda a: a.tell([[np.nan, 0.5]], [1.0]), InputError),
        (lambda a: a.tell([[0.5, 0.5, 0.5]], [1.0]), ShapeError),
        (lambda a: a.tell([[0.5, 0.5], [1.0, 1.0]], [1.0]), ShapeError),
        (lambda a: a.tell([[5.0, 0.5]], [1.0]), InputError),
        (lambda a: a.tell(np.empty((0, 2)), []), InputError),
        (lambda a: a.tell([[0.5, 0.5]], [1.0], noise_variance=[0.1]), ConfigurationError),
        (lambda a: a.tell([[0.5, 0.5]], [1.0, 2.0]), ShapeError),
        (lambda a: a.ask(0), InputError),
        (lambda a: a.ask(-2), InputError),
        (lambda a: a.ask(1.5), InputError),
        (lambda a: a.ask(1, current_position=[0.1, 0.2, 0.3]), ShapeError),
        (lambda a: a.ask(1, candidates=np.empty((0, 2))), InputError),
        (lambda a: a.ask(1, candidates=[[9.0, 9.0]]), InputError),
        (lambda a: a.ask(1, pending=[[0.1]]), ShapeError),
        (lambda a: a.predict([[0.1, 0.2, 0.3]]), ShapeError),
        (lambda a: a.ingest([{"x0": 0.1, "y": 1.0}]), InputError),
        (lambda a: a.ingest([{"x0": 0.1, "x1": 0.2, "y": float("nan")}]), InputError),
        (lambda a: a.run(lambda X: X[:, 0]), ConfigurationError),
        (lambda a: a.run(lambda X: X[:, 0], max_points=0), InputError),
    ],
)
def test_bad_calls_raise_before_anything_changes(call, error):
    agent = small_agent()
    before = _snapshot(agent)
    with pytest.raises(error):
        call(agent)
    assert _snapshot(agent) == before


def test_log_transform_rejects_non_positive_values():
    agent = Agent(BOUNDS, output_transform="log")
    with pytest.raises(InputError, match="positive"):
        agent.tell([[0.5, 0.5], [1.0, 1.0]], [1.0, 0.0])
    assert agent.n == 0


def test_queries_before_data():
    agent = Agent(BOUNDS)
    for call in (lambda: agent.predict([[0.1, 0.1]]), agent.max_uncertainty, agent.train):
        with pytest.raises(NotFittedError, match="tell"):
            call()


# ---------------------------------------------------------------------- ask
def test_first_ask_is_an_initial_design_and_says_so():
    agent = Agent(BOUNDS, seed=0)
    s = agent.ask(4)
    assert isinstance(s, Suggestion)
    assert s.acquisition == "initial_design" and "no model" in s.message
    assert s.points.shape == (4, 2) and np.all(np.isnan(s.values))
    assert np.all((s.points >= LO) & (s.points <= HI))
    assert s.model_version.n_points == 0


def test_ask_returns_a_typed_traceable_suggestion():
    agent = small_agent(acquisition="ucb")
    s = agent.ask(3)
    assert s.points.shape == (3, 2) and s.values.shape == (3,)
    assert s.acquisition == "ucb" and not s.fallback
    assert s.model_version.n_points == 10
    assert set(s.model_version.hyperparameters) >= {"kernel.outputscale", "noise.variance"}
    post = agent.predict(s.points)
    np.testing.assert_allclose(s.predicted_mean, post.mean)
    np.testing.assert_allclose(s.predicted_std, np.sqrt(post.variance))
    json.dumps(s.to_dict())


def test_ask_with_candidates_returns_candidate_rows():
    C = uniform(30, 7)
    agent = small_agent(candidates=C)
    s = agent.ask(4)
    for p in s.points:
        assert np.any(np.all(C == p, axis=1))
    assert len(np.unique(s.points, axis=0)) == 4


def test_ask_respects_constraints():
    def below_diagonal(X):  # torch or numpy
        return 1.5 * X[:, 0] - X[:, 1]

    agent = Agent(BOUNDS, seed=0, constraints=below_diagonal, train_schedule="never")
    first = agent.ask(6)
    assert np.all(below_diagonal(first.points) >= 0)
    agent.tell(first.points, field(first.points))
    s = agent.ask(4)
    assert np.all(below_diagonal(s.points) >= 0)
    assert np.all((s.points >= LO) & (s.points <= HI))


def test_motion_cost_orders_the_batch_from_the_current_position():
    cost = MotionCost(speeds=[1.0, 1.0], overhead_s=0.5)
    agent = small_agent(motion_cost=cost)
    start = np.array([0.0, 0.0])
    s = agent.ask(4, current_position=start)
    assert s.travel_time_s is not None and s.travel_time_s >= 4 * 0.5
    legs = np.abs(np.diff(np.vstack([start, s.points]), axis=0)).max(axis=1)
    # Nearest neighbour then 2-opt: the first stop is not the farthest one.
    assert legs[0] <= np.abs(s.points - start).max(axis=1).max()


def test_target_acquisition_and_log_transform():
    agent = Agent(BOUNDS, acquisition=Target(1.0, 2.0), output_transform="log", seed=1)
    X = uniform(12, 2)
    agent.tell(X, np.exp(field(X)))
    post = agent.predict(uniform(20, 3))
    assert np.all(post.mean > 0) and np.all(post.variance >= 0)
    s = agent.ask(2)
    assert np.all((s.values >= 0) & (s.values <= 1))


def test_user_callable_acquisition():
    def lowest_mean(X: torch.Tensor, posterior) -> torch.Tensor:
        return -posterior.mean

    agent = small_agent(acquisition=lowest_mean)
    s = agent.ask(1)
    assert s.acquisition == "lowest_mean"
    grid = uniform(400, 5)
    assert agent.predict(s.points).mean[0] <= agent.predict(grid).mean.min() + 1e-6


# ---------------------------------------------------------------------- training
def test_agent_retrains_on_a_geometric_schedule():
    schedule = TrainingSchedule(first=5, factor=2.0, n_starts=2, n_starts_warm=1, max_iter=30)
    agent = Agent(BOUNDS, seed=0, train_schedule=schedule)
    X = uniform(12, 4)
    for i in range(12):
        agent.tell(X[i : i + 1], field(X[i : i + 1]))
    status = agent.training_status()
    assert status.n_jobs == 2  # at 5 and at 10 points
    assert agent.model_version.version >= 1
    assert agent.state().metadata["last_trained_n"] == 10


def test_never_schedule_trains_only_on_request():
    agent = small_agent(train_schedule="never")
    assert agent.training_status().n_jobs == 0
    hp_before = agent.model_version.hyperparameters
    result = agent.train()
    assert agent.training_status().n_jobs == 1
    if result.accepted:
        assert agent.model_version.hyperparameters != hp_before
        assert agent.model_version.version == 1
    assert agent.train_async() is True  # the inline trainer finishes at once
    assert agent.training_status().running is False
    assert agent.training_future is None  # taken in already: nothing in flight
    agent.cancel_training()  # nothing to cancel: a no-op


# ---------------------------------------------------------------------- behaviour
def test_tell_ask_loop_reduces_the_error():
    # Defaults throughout (retraining schedule included), only a lighter optimizer for speed.
    agent = Agent(BOUNDS, seed=1, optimizer=OptimizerSettings(n_candidates=128, n_starts=2))
    grid = uniform(400, 11)

    def rmse() -> float:
        return float(np.sqrt(np.mean((agent.predict(grid).mean - field(grid)) ** 2)))

    first = agent.ask(4)
    agent.tell(first.points, field(first.points))
    before = rmse()
    for _ in range(13):
        s = agent.ask(2)
        agent.tell(s.points, field(s.points))
    assert agent.n == 30
    assert rmse() < 0.5 * before  # measured 0.07-0.34 of `before` over seeds 0-5
    assert agent.training_status().n_accepted >= 1  # the default schedule trained it
    # The stopping signal bounds the uncertainty seen anywhere on a grid.
    assert agent.max_uncertainty() >= np.sqrt(agent.predict(grid).variance).max() - 1e-9
