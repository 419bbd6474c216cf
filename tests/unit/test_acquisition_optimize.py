"""Maximizing an acquisition: bounds, candidate sets, constraints, and honest fallbacks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gpsteer.acquisition import maximize, sobol_points
from gpsteer.acquisition.design import farthest_points, space_filling
from gpsteer.acquisition.optimize import check_candidates
from gpsteer.errors import ConfigurationError, InputError, NumericalError, ShapeError

BOUNDS = np.array([[-1.0, 1.0], [0.0, 4.0]])
PEAK = np.array([0.3, 2.5])


def bump(X: torch.Tensor) -> torch.Tensor:
    """A smooth function with its maximum 1 at PEAK."""
    d = (X - torch.as_tensor(PEAK, dtype=X.dtype)) / torch.tensor([0.5, 1.0], dtype=X.dtype)
    return torch.exp(-(d**2).sum(-1))


def slope(X: torch.Tensor) -> torch.Tensor:
    """Increasing in both coordinates: the maximum sits in the upper corner of the box."""
    return X[:, 0] + X[:, 1]


def seeds(n: int = 64, seed: int = 0) -> np.ndarray:
    return sobol_points(BOUNDS, n, np.random.default_rng(seed))


def test_polish_finds_the_interior_maximum_better_than_the_candidates():
    coarse = maximize(bump, BOUNDS, seeds(16), n_starts=0)
    fine = maximize(bump, BOUNDS, seeds(16), n_starts=3)
    assert fine.value >= coarse.value
    np.testing.assert_allclose(fine.x, PEAK, atol=1e-4)
    assert not fine.fallback and fine.index is None


def test_result_never_leaves_the_box():
    # The unconstrained maximum of slope is outside; the result must be the corner.
    out = maximize(slope, BOUNDS, seeds())
    assert np.all(out.x >= BOUNDS[:, 0]) and np.all(out.x <= BOUNDS[:, 1])
    np.testing.assert_allclose(out.x, BOUNDS[:, 1], atol=1e-9)


def test_constraints_are_respected():
    # Disk of radius 1.5 around (0, 0): x0^2 + x1^2 <= 2.25. Slope is maximal on its rim,
    # where it meets the box edge x0 = 1.
    def disk(X):
        return 2.25 - (X**2).sum(-1)

    out = maximize(slope, BOUNDS, seeds(), constraints=[disk])
    assert disk(torch.as_tensor(out.x[None]))[0] >= -1e-9
    r = np.hypot(*out.x)
    assert r == pytest.approx(1.5, abs=1e-3)  # on the rim, not inside
    np.testing.assert_allclose(out.x, [1.0, np.sqrt(1.25)], atol=1e-4)
    assert not out.fallback


def test_infeasible_constraints_raise():
    with pytest.raises(ConfigurationError, match="constraint"):
        maximize(slope, BOUNDS, seeds(), constraints=[lambda X: -torch.ones(X.shape[0])])


def test_constraint_with_wrong_shape_raises():
    with pytest.raises(ShapeError, match="Constraint"):
        maximize(slope, BOUNDS, seeds(), constraints=[lambda X: X])


def test_discrete_candidates_pick_the_best_row_without_moving():
    C = np.array([[0.0, 0.0], [0.3, 2.4], [0.9, 3.9], [-1.0, 4.0]])
    out = maximize(bump, BOUNDS, C, discrete=True)
    assert out.index == 1
    np.testing.assert_array_equal(out.x, C[1])


def test_discrete_with_exclusion_and_constraints():
    C = np.array([[0.0, 0.0], [0.3, 2.4], [0.9, 3.9], [0.2, 2.6]])
    out = maximize(bump, BOUNDS, C, discrete=True, exclude=C[1:2], min_distance=1e-9)
    assert out.index == 3
    out = maximize(
        bump, BOUNDS, C, discrete=True, constraints=[lambda X: 0.1 - X[:, 0]], min_distance=1e-9
    )
    assert out.index == 0  # the only candidates with x0 <= 0.1


def test_exclusion_keeps_a_box_result_away_from_chosen_points():
    first = maximize(bump, BOUNDS, seeds())
    second = maximize(bump, BOUNDS, seeds(), exclude=first.x[None], min_distance=0.05)
    dist = np.linalg.norm((second.x - first.x) / (BOUNDS[:, 1] - BOUNDS[:, 0]))
    assert dist >= 0.05


def test_failed_polish_falls_back_to_best_candidate_and_says_so():
    def fragile(X: torch.Tensor) -> torch.Tensor:
        if X.requires_grad:
            raise RuntimeError("no gradients today")
        return bump(X)

    C = seeds(32)
    out = maximize(fragile, BOUNDS, C)
    assert out.fallback
    assert "polish failed" in out.message and "RuntimeError" in out.message
    with torch.no_grad():
        best = int(torch.argmax(bump(torch.as_tensor(C))))
    np.testing.assert_array_equal(out.x, C[best])


def test_non_finite_everywhere_raises():
    with pytest.raises(NumericalError):
        maximize(lambda X: torch.full((X.shape[0],), float("nan")), BOUNDS, seeds())


def test_nan_in_places_is_skipped():
    def holes(X):
        v = bump(X)
        return torch.where(X[:, 0] > 0, torch.full_like(v, float("nan")), v)

    out = maximize(holes, BOUNDS, seeds(), n_starts=0)
    assert out.x[0] <= 0 and np.isfinite(out.value)


@pytest.mark.parametrize(
    ("candidates", "error"),
    [
        (np.empty((0, 2)), InputError),
        (np.zeros((3, 3)), ShapeError),
        (np.array([[0.0, 5.0]]), InputError),  # outside the bounds
        (np.array([[np.nan, 1.0]]), InputError),
    ],
)
def test_check_candidates(candidates, error):
    with pytest.raises(error):
        check_candidates(candidates, BOUNDS)


def test_space_filling_designs():
    rng = np.random.default_rng(0)
    X = space_filling(BOUNDS, 8, rng)
    assert X.shape == (8, 2) and np.all((X >= BOUNDS[:, 0]) & (X <= BOUNDS[:, 1]))
    # With a constraint every point is feasible and the points are distinct.
    Xc = space_filling(BOUNDS, 6, rng, constraints=[lambda X: X[:, 1] - 2.0])
    assert np.all(Xc[:, 1] >= 2.0) and len(np.unique(Xc, axis=0)) == 6
    # From candidates, excluding one: never returns the excluded point.
    C = np.array([[0.0, 0.0], [1.0, 4.0], [-1.0, 4.0], [0.0, 2.0]])
    idx = farthest_points(C, 3, BOUNDS[:, 1] - BOUNDS[:, 0], exclude=C[:1])
    assert 0 not in idx and len(set(idx)) == 3
    with pytest.raises(InputError, match="distinct"):
        space_filling(BOUNDS, 5, rng, candidates=C)


def test_the_polish_runs_on_its_stand_in_and_the_exact_score_has_the_last_word():
    calls: list[int] = []

    def stand_in(starts: np.ndarray):
        calls.append(len(starts))
        return bump

    out = maximize(bump, BOUNDS, seeds(16), n_starts=3, polish_score=stand_in)
    assert calls == [3]  # built once, for the three starts
    np.testing.assert_allclose(out.x, PEAK, atol=1e-4)

    # a stand-in that leads the polish astray: the best candidate is kept
    best_candidate = maximize(bump, BOUNDS, seeds(16), n_starts=0)
    astray = maximize(bump, BOUNDS, seeds(16), n_starts=3, polish_score=lambda s: slope)
    assert astray.value == best_candidate.value
    np.testing.assert_array_equal(astray.x, best_candidate.x)
