"""Property-based tests of the Agent: any data either works or raises a gpsteer error.

Hypothesis draws dimensions, bounds (tiny to huge widths, large offsets), data sizes,
duplicated and near-duplicated points, output scales from 1e-200 to 1e200, constant
outputs, measured noise (zeros included), acquisition functions and output
transforms. Each example must give finite, sensible answers (suggestions inside the
bounds, finite means, non-negative variances), except where the inputs call for a
documented refusal (values too large to model: ``InputError``), which must then be
raised — never an ``IndexError``, a ``LinAlgError``, an ``OverflowError`` or a NaN
from deep inside, and never a refusal of inputs that should work.
"""

from __future__ import annotations

import json
import math
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gpsteer import Agent
from gpsteer.acquisition import ACQUISITIONS, OptimizerSettings
from gpsteer.agent import TrainingSchedule
from gpsteer.agent.validation import MAX_ABS_VALUE
from gpsteer.errors import GpsteerWarning, InputError, ShapeError

SETTINGS = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
OPTIMIZER = OptimizerSettings(n_candidates=32, n_starts=1, max_iter=8)
#: Acquisition functions usable by name alone ("target" needs its interval).
NAMES = sorted(name for name in ACQUISITIONS if name != "target")
#: train() on request only, and cheaply
SCHEDULE = TrainingSchedule(first=10**6, n_starts=1, n_starts_warm=1, max_iter=15)


def _agent(bounds: np.ndarray, **kwargs: Any) -> Agent:
    return Agent(bounds=bounds, seed=0, optimizer=OPTIMIZER, train_schedule=SCHEDULE, **kwargs)


@st.composite
def problems(draw: st.DrawFn) -> dict[str, Any]:
    """Bounds, data and agent options, including the degenerate cases that break GPs."""
    d = draw(st.integers(1, 3))
    lo = np.array(draw(st.lists(st.sampled_from([0.0, -1.0, 1e6, -3e8]), min_size=d, max_size=d)))
    width = 10.0 ** np.array(draw(st.lists(st.integers(-6, 6), min_size=d, max_size=d)))
    bounds = np.column_stack([lo, lo + width])
    n_distinct = draw(st.integers(1, 12))
    unit = draw(hnp.arrays(np.float64, (n_distinct, d), elements=st.floats(0.0, 1.0)))
    layout = draw(st.sampled_from(["distinct", "duplicates", "near-duplicates"]))
    if layout == "duplicates":
        unit = np.repeat(unit, draw(st.integers(2, 4)), axis=0)
    elif layout == "near-duplicates":
        unit = np.vstack([unit, np.clip(unit + 1e-12, 0.0, 1.0)])
    X = bounds[:, 0] + unit * width
    n = len(X)
    shape = draw(st.sampled_from(["random", "constant", "zero", "step"]))
    if shape == "random":
        y = draw(hnp.arrays(np.float64, n, elements=st.floats(-1.0, 1.0)))
    elif shape == "constant":
        y = np.full(n, draw(st.floats(-1.0, 1.0)))
    elif shape == "zero":
        y = np.zeros(n)
    else:
        y = np.where(unit[:, 0] > 0.5, 1.0, -1.0)
    scale = 10.0 ** draw(st.integers(-200, 200))
    offset = draw(st.sampled_from([0.0, 0.0, 1.0, 1e6]))
    transform = draw(st.sampled_from(["identity", "identity", "log"]))
    if transform == "log":  # positive values (non-positive ones: test_agent.py)
        y = np.abs(y) + 0.5
    y = (y + offset) * scale
    noise = draw(st.sampled_from([None, "zeros", "measured"]))
    noise_variance = None
    if noise == "zeros":
        noise_variance = np.zeros(n)
    elif noise == "measured":
        noise_variance = (0.01 * scale) ** 2 * np.ones(n) if scale < 1e150 else np.ones(n)
    options = {
        "acquisition": draw(st.sampled_from(NAMES)),
        "output_transform": transform,
        "kernel": draw(st.sampled_from(["matern52", "rbf"])),
    }
    return {
        "bounds": bounds,
        "X": X,
        "y": y,
        "noise_variance": noise_variance,
        "options": options,
        "batch": draw(st.integers(1, 3)),
    }


def _exercise(p: dict[str, Any]) -> None:
    """tell, train, ask, predict, max_uncertainty; check every answer that comes back."""
    bounds = p["bounds"]
    agent = _agent(bounds, **p["options"])
    agent.tell(p["X"], p["y"], noise_variance=p["noise_variance"])
    agent.train()
    suggestion = agent.ask(p["batch"])
    points = suggestion.points
    assert points.shape == (p["batch"], len(bounds))
    assert np.isfinite(points).all()
    assert (points >= bounds[:, 0]).all() and (points <= bounds[:, 1]).all()
    rng = np.random.default_rng(0)
    Xq = np.vstack(
        [p["X"][:3], bounds[:, 0] + rng.uniform(size=(4, len(bounds))) * np.ptp(bounds, axis=1)]
    )
    post = agent.predict(Xq)
    assert np.isfinite(post.mean).all(), post.mean
    assert np.isfinite(post.variance).all() and (post.variance >= 0).all(), post.variance
    assert math.isfinite(agent.max_uncertainty())
    json.dumps(agent.configuration())  # the run's start document can hold it


def _expected_error(p: dict[str, Any]) -> str | None:
    """The documented refusal for these inputs (a message fragment), or None: must work."""
    if np.abs(p["y"]).max() > MAX_ABS_VALUE:
        return "too large"  # the posterior variance would overflow float64
    return None


@SETTINGS
@given(problems())
def test_tell_train_ask_predict_work_or_raise_the_documented_error(p: dict[str, Any]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GpsteerWarning)  # jitter, optimizer notes: allowed
        expected = _expected_error(p)
        if expected is None:
            _exercise(p)  # any exception fails the example
        else:
            with pytest.raises(InputError, match=expected):
                _exercise(p)


def test_the_extreme_examples_have_their_outcome() -> None:
    """The corners the strategy must reach, checked explicitly (hypothesis may not draw them)."""
    bounds = np.array([[0.0, 1.0], [0.0, 1.0]])
    X = np.random.default_rng(1).uniform(size=(10, 2))
    base = {"bounds": bounds, "X": X, "noise_variance": None, "batch": 2}
    options = {"acquisition": "variance", "output_transform": "identity", "kernel": "matern52"}
    for y in (np.full(10, 3.0), np.zeros(10), 1e-200 * X[:, 0], 1e150 * X[:, 0]):
        _exercise({**base, "y": y, "options": options})
    _exercise({**base, "X": np.repeat(X[:1], 10, axis=0), "y": np.arange(10.0), "options": options})
    with pytest.raises(InputError, match="too large"):  # variances would overflow float64
        _exercise({**base, "y": 1e200 * X[:, 0], "options": options})


# -- arbitrary shapes ------------------------------------------------------------------

shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
anything = hnp.arrays(np.float64, shapes, elements=st.floats(-2.0, 2.0))


@SETTINGS
@given(X=anything, y=anything, n=st.integers(-2, 4), Xq=anything)
def test_arbitrary_shapes_raise_shape_or_input_errors(
    X: np.ndarray, y: np.ndarray, n: int, Xq: np.ndarray
) -> None:
    agent = _agent(np.array([[-2.0, 2.0], [-2.0, 2.0]]))
    agent.tell([[0.0, 0.0], [1.0, 1.0], [-1.0, 0.5]], [0.0, 1.0, -1.0])
    for call in (
        lambda: agent.tell(X, y),
        lambda: agent.ask(n),
        lambda: agent.ask(1, current_position=Xq),
        lambda: agent.ask(1, pending=Xq),
        lambda: agent.predict(Xq),
    ):
        try:
            out = call()
        except (InputError, ShapeError):
            continue
        if out is not None and hasattr(out, "points"):
            assert np.isfinite(out.points).all()
        elif out is not None:
            assert np.isfinite(out.mean).all() and (out.variance >= 0).all()
    assert agent.n >= 3  # a refused tell changed nothing; an accepted one added rows


@SETTINGS
@given(
    position=st.integers(0, 5),
    bad=st.sampled_from([math.nan, math.inf, -math.inf]),
    where=st.sampled_from(["X", "y", "noise"]),
)
def test_a_non_finite_value_anywhere_is_refused_before_anything_changes(
    position: int, bad: float, where: str
) -> None:
    agent = _agent(np.array([[0.0, 1.0], [0.0, 1.0]]))
    agent.tell([[0.2, 0.2], [0.8, 0.8]], [1.0, 2.0], noise_variance=[0.01, 0.01])
    before = (agent.X, agent.y, agent.model_version)
    X = np.random.default_rng(position).uniform(size=(6, 2))
    y, noise = np.ones(6), np.full(6, 0.01)
    {"X": X[:, 0], "y": y, "noise": noise}[where][position] = bad
    with pytest.raises(InputError, match="NaN or inf"):
        agent.tell(X, y, noise_variance=noise)
    np.testing.assert_array_equal(agent.X, before[0])
    np.testing.assert_array_equal(agent.y, before[1])
    assert agent.model_version == before[2]
