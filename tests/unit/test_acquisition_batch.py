"""Batches chosen jointly, motion-cost weighting, and path ordering."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from gpsteer.acquisition import (
    ExpectedImprovement,
    MotionCost,
    MutualInformation,
    PosteriorVariance,
    UpperConfidenceBound,
    order_path,
    path_time,
    select_batch,
    sobol_points,
)
from gpsteer.errors import ConfigurationError, InputError
from gpsteer.gp import GaussianProcess

BOUNDS = np.array([[0.0, 2.0], [0.0, 3.0]])
WIDTH = BOUNDS[:, 1] - BOUNDS[:, 0]


def _gp(X: np.ndarray, y: np.ndarray, bounds: np.ndarray, lengthscale, noise: float):
    model = GaussianProcess(input_bounds=bounds.tolist())
    model.set_data(X, y)
    model.set_hyperparameters(
        {
            "kernel.outputscale": 1.0,
            "kernel.base.lengthscale": lengthscale,
            "mean.constant": float(np.mean(y)),
            "noise.variance": noise,
        }
    )
    return model


@pytest.fixture(scope="module")
def gp() -> GaussianProcess:
    rng = np.random.default_rng(0)
    X = BOUNDS[:, 0] + rng.uniform(size=(12, 2)) * WIDTH
    y = np.sin(2 * X[:, 0]) + np.cos(X[:, 1])
    return _gp(X, y, BOUNDS, [0.25, 0.3], 1e-3)


def _seeds(n: int = 128) -> np.ndarray:
    return sobol_points(BOUNDS, n, np.random.default_rng(3))


def _min_pairwise(points: np.ndarray) -> float:
    d = np.linalg.norm((points[:, None] - points[None]) / WIDTH, axis=-1)
    return float((d + np.eye(len(points)) * 9).min())


@pytest.mark.parametrize(
    "acq",
    [PosteriorVariance(), UpperConfidenceBound(2.0), ExpectedImprovement(), MutualInformation()],
    ids=lambda a: a.name,
)
def test_batch_points_are_distinct_and_inside_bounds(gp, acq):
    sel = select_batch(acq, gp, 5, bounds=BOUNDS, candidates=_seeds())
    assert sel.points.shape == (5, 2) and sel.values.shape == (5,)
    assert np.all(sel.points >= BOUNDS[:, 0]) and np.all(sel.points <= BOUNDS[:, 1])
    assert _min_pairwise(sel.points) >= 1e-3
    assert not sel.fallback


def test_discrete_batch_uses_distinct_candidates(gp):
    C = _seeds(20)
    sel = select_batch(PosteriorVariance(), gp, 6, bounds=BOUNDS, candidates=C, discrete=True)
    rows = [int(np.flatnonzero((C == p).all(axis=1))[0]) for p in sel.points]
    assert len(set(rows)) == 6
    with pytest.raises(InputError, match="candidate set"):
        select_batch(PosteriorVariance(), gp, 21, bounds=BOUNDS, candidates=C, discrete=True)


def test_variance_batch_conditions_exactly_on_earlier_points(gp):
    sel = select_batch(PosteriorVariance(), gp, 2, bounds=BOUNDS, candidates=_seeds())
    x1, x2 = sel.points
    # Reference: var(x2 | noisy measurement at x1) from the joint posterior covariance.
    post = gp.predict(np.vstack([x1, x2]), full_cov=True)
    noise = gp.hyperparameters()["noise.variance"][0] * gp.y_scale**2
    cov = post.covariance
    var2 = cov[1, 1] - cov[0, 1] ** 2 / (cov[0, 0] + noise)
    assert sel.values[0] == pytest.approx(np.sqrt(cov[0, 0]), rel=1e-8)
    assert sel.values[1] == pytest.approx(np.sqrt(var2), rel=1e-6)


def test_information_gains_add_up_to_the_joint_information(gp):
    sel = select_batch(MutualInformation(), gp, 4, bounds=BOUNDS, candidates=_seeds())
    noise = gp.hyperparameters()["noise.variance"][0] * gp.y_scale**2
    cov = gp.predict(sel.points, full_cov=True).covariance
    joint = 0.5 * np.linalg.slogdet(np.eye(4) + cov / noise)[1]
    assert sel.values.sum() == pytest.approx(joint, rel=1e-8)
    assert np.all(sel.values > 0)


def test_pending_points_are_avoided(gp):
    first = select_batch(PosteriorVariance(), gp, 1, bounds=BOUNDS, candidates=_seeds()).points
    again = select_batch(
        PosteriorVariance(), gp, 1, bounds=BOUNDS, candidates=_seeds(), pending=first
    ).points
    assert np.linalg.norm((again[0] - first[0]) / WIDTH) > 0.05


# ---------------------------------------------------------------------- motion cost
@pytest.fixture(scope="module")
def gp1d() -> GaussianProcess:
    # Data off-centre: x = 0 is farther from the data than x = 10, so more uncertain.
    X = np.array([[5.2], [5.5], [5.8]])
    return _gp(X, np.array([1.0, 1.2, 0.9]), np.array([[0.0, 10.0]]), [0.15], 1e-4)


def test_without_cost_the_most_uncertain_end_wins(gp1d):
    bounds = np.array([[0.0, 10.0]])
    seeds = np.linspace(0, 10, 41)[:, None]
    sel = select_batch(PosteriorVariance(), gp1d, 1, bounds=bounds, candidates=seeds)
    assert sel.points[0, 0] < 1.0


def test_motion_cost_prefers_points_cheap_to_reach(gp1d):
    bounds = np.array([[0.0, 10.0]])
    seeds = np.linspace(0, 10, 41)[:, None]
    cost = MotionCost(speeds=[0.5], overhead_s=1.0)
    sel = select_batch(
        PosteriorVariance(),
        gp1d,
        1,
        bounds=bounds,
        candidates=seeds,
        motion=cost,
        position=np.array([10.0]),
    )
    assert sel.points[0, 0] > 9.0
    # A fast motor makes travel negligible again: back to the most uncertain end.
    fast = MotionCost(speeds=[1e4], overhead_s=1.0)
    sel = select_batch(
        PosteriorVariance(),
        gp1d,
        1,
        bounds=bounds,
        candidates=seeds,
        motion=fast,
        position=np.array([10.0]),
    )
    assert sel.points[0, 0] < 1.0


def test_motion_cost_times():
    cost = MotionCost(speeds=[1.0, 2.0], overhead_s=0.5)
    start = np.array([0.0, 0.0])
    X = np.array([[1.0, 1.0], [0.0, 4.0]])
    np.testing.assert_allclose(cost.time(start, X), [1.5, 2.5])  # slowest axis + overhead
    seq = MotionCost(speeds=[1.0, 2.0], overhead_s=0.5, simultaneous=False)
    np.testing.assert_allclose(seq.time(start, X), [2.0, 2.5])
    t = cost.time(torch.as_tensor(start), torch.as_tensor(X))
    np.testing.assert_allclose(t.numpy(), [1.5, 2.5])
    assert path_time(X, start, cost) == pytest.approx(1.0 + 1.5 + 2 * 0.5)


@pytest.mark.parametrize(
    "kwargs", [{"speeds": [0.0], "overhead_s": 1.0}, {"speeds": [1.0], "overhead_s": 0.0}]
)
def test_motion_cost_rejects_bad_settings(kwargs):
    with pytest.raises(ConfigurationError):
        MotionCost(**kwargs)


# ---------------------------------------------------------------------- path ordering
def test_collinear_points_are_visited_in_order():
    points = np.array([[3.0, 0.0], [1.0, 0.0], [4.0, 0.0], [2.0, 0.0]])
    order = order_path(points, start=[0.0, 0.0])
    np.testing.assert_array_equal(points[order][:, 0], [1.0, 2.0, 3.0, 4.0])


@pytest.mark.parametrize("seed", range(5))
def test_path_is_a_short_permutation(seed):
    rng = np.random.default_rng(seed)
    points = rng.uniform(size=(7, 2))
    start = rng.uniform(size=2)
    order = order_path(points, start)
    assert sorted(order.tolist()) == list(range(7))
    length = path_time(points[order], start, None)
    assert length <= path_time(points, start, None) + 1e-12
    best = min(path_time(points[list(p)], start, None) for p in itertools.permutations(range(7)))
    assert length <= 1.15 * best  # 2-opt after nearest neighbour: near optimal here
