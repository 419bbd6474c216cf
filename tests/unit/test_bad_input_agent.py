"""Degenerate and bad data given to the Agent: no Cholesky failure, a usable model, or a
specific gpsteer error before anything changes.

Cases already covered elsewhere (not repeated): NaN/inf, wrong shapes, points outside
the bounds, empty batches, mixed noise in ``tell`` and unknown names at construction
(``test_agent.py``); duplicate inputs and constant outputs in the GP engine, wrong
hyperparameter names and lengths (``gp/test_gp_bad_input.py``). Random data of any
shape and scale: ``test_agent_properties.py``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from gpsteer import Agent
from gpsteer.acquisition import OptimizerSettings
from gpsteer.agent import AgentState, TrainingSchedule
from gpsteer.errors import GpsteerWarning, InputError, ShapeError, UnknownNameError

BOUNDS = [(0.0, 1.0), (0.0, 1.0)]
OPTIMIZER = OptimizerSettings(n_candidates=64, n_starts=1, max_iter=10)
SCHEDULE = TrainingSchedule(first=6, factor=1.5, n_starts=2, n_starts_warm=1, max_iter=40)


def agent(**kwargs) -> Agent:
    options = {"seed": 0, "optimizer": OPTIMIZER, "train_schedule": SCHEDULE}
    options.update(kwargs)
    return Agent(BOUNDS, **options)


def usable(a: Agent) -> None:
    """Training, a batch, predictions and the stopping signal all give finite answers."""
    a.train()
    points = a.ask(3).points
    assert points.shape == (3, 2) and np.isfinite(points).all()
    post = a.predict(np.vstack([a.X[:2], [[0.1, 0.9], [0.9, 0.1]]]))
    assert np.isfinite(post.mean).all()
    assert np.isfinite(post.variance).all() and (post.variance >= 0).all()
    assert np.isfinite(a.max_uncertainty())


def grid(n: int) -> np.ndarray:
    return np.random.default_rng(3).uniform(size=(n, 2))


@pytest.fixture(autouse=True)
def _jitter_notes_allowed():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GpsteerWarning)  # a NumericalWarning is a remedy
        yield


# -- duplicates ------------------------------------------------------------------------


def test_the_same_point_measured_many_times_with_different_values() -> None:
    a = agent()
    X = np.tile([[0.5, 0.5]], (20, 1))
    y = np.random.default_rng(0).normal(2.0, 0.1, 20)
    a.tell(X, y)  # trains at 6, 9, 14 and 20 points on the way
    usable(a)
    assert a.predict([[0.5, 0.5]]).mean[0] == pytest.approx(y.mean(), abs=0.05)
    a.tell([[0.5, 0.5]], [2.0])  # one more on top of the duplicates: the O(N^2) update
    usable(a)


def test_near_duplicates_with_contradicting_values() -> None:
    a = agent()
    X = grid(10)
    a.tell(np.vstack([X, X + 1e-13]), np.r_[np.sin(3 * X[:, 0]), np.sin(3 * X[:, 0]) + 0.3])
    usable(a)


def test_duplicates_told_one_by_one() -> None:
    a = agent()
    for i in range(12):
        a.tell([[0.25, 0.75]], [float(i % 3)])
    usable(a)


# -- noise -----------------------------------------------------------------------------


def test_zero_measured_noise() -> None:
    a = agent()
    X = grid(12)
    a.tell(X, np.cos(4 * X[:, 1]), noise_variance=np.zeros(12))
    usable(a)
    np.testing.assert_allclose(a.predict(X).mean, np.cos(4 * X[:, 1]), atol=1e-3)


def test_zero_measured_noise_on_duplicates_that_disagree() -> None:
    a = agent()
    a.tell([[0.3, 0.3]] * 4 + [[0.7, 0.7]] * 4, [0, 1, 0, 1, 5, 6, 5, 6], noise_variance=0.0)
    usable(a)


def test_log_transform_with_noise_far_larger_than_the_values() -> None:
    a = agent(output_transform="log")
    X = grid(8)
    a.tell(X, np.full(8, 1e-20), noise_variance=np.full(8, 1e-4))  # relative noise 1e18
    usable(a)


# -- constant data ---------------------------------------------------------------------


@pytest.mark.parametrize("value", [0.0, 3.0, -1e6, 1e-300])
def test_constant_data(value: float) -> None:
    a = agent()
    X = grid(10)
    a.tell(X, np.full(10, value))
    usable(a)
    # (exact for a constant of any size; all zeros has no scale, so absolute 1e-9)
    np.testing.assert_allclose(a.predict(X).mean, value, rtol=1e-6, atol=1e-9)


# -- values the model cannot hold ------------------------------------------------------


def test_values_whose_variance_would_overflow_are_refused() -> None:
    a = agent()
    a.tell(grid(3), [1.0, 2.0, 3.0])
    with pytest.raises(InputError, match="too large to model"):
        a.tell([[0.5, 0.5]], [1e200])
    assert a.n == 3
    with pytest.raises(InputError, match="too large to model"):
        agent().tell([[0.5, 0.5]], [1.0], noise_variance=[1e305])
    big = agent()
    big.tell(grid(10), 1e150 * grid(10)[:, 0])  # the largest allowed values work
    usable(big)


def test_negative_noise_variance_is_refused() -> None:
    with pytest.raises(InputError, match=">= 0"):
        agent().tell(grid(2), [1.0, 2.0], noise_variance=[0.1, -0.1])


# -- names and hyperparameters ---------------------------------------------------------


def test_unknown_acquisition_names_list_the_known_ones() -> None:
    with pytest.raises(UnknownNameError, match="choose one of") as raised:
        agent(acquisition="Upper Confidence Bound")
    assert "ucb" in str(raised.value) and "variance" in str(raised.value)


def test_a_saved_state_with_hyperparameter_arrays_of_the_wrong_length() -> None:
    a = agent(train_schedule="never")
    a.tell(grid(6), grid(6)[:, 0])
    state = a.state()
    theta = state.arrays["theta"]
    for bad in (theta[:-1], np.r_[theta, 0.0]):
        with pytest.raises(ShapeError, match=f"theta must have {theta.size} value"):
            Agent.from_state(
                AgentState(metadata=state.metadata, arrays={**state.arrays, "theta": bad})
            )
    metadata = {**state.metadata}
    metadata["hyperparameters"] = {"kernel.base.lengthscale": [0.1, 0.2, 0.3]}
    with pytest.raises(ShapeError, match="holds 2 value"):
        Agent.from_state(AgentState(metadata=metadata, arrays=state.arrays))
    with pytest.raises(ShapeError, match="holds 2 value"):
        a.gp.set_hyperparameters({"kernel.base.lengthscale": [0.1, 0.2, 0.3]})
    usable(a)  # the failed calls changed nothing


@pytest.mark.parametrize(
    "options",
    [
        {"first": 0},
        {"factor": 1.0},
        {"n_starts": 0},
        {"max_iter": -5},
    ],
)
def test_negative_or_zero_training_budgets(options: dict) -> None:
    with pytest.raises(InputError):
        TrainingSchedule(**options)
