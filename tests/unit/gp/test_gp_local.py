"""The model of the data near some points (:func:`gpsteer.gp.local.near`)."""

from __future__ import annotations

import numpy as np
import pytest

from gpsteer.errors import InputError
from gpsteer.gp import GaussianProcess
from gpsteer.gp.local import near

BOX = [(0.0, 2.0), (0.0, 1.0)]  # not a unit box: neighbours are found in unit-box terms


def grid_model(side: int) -> GaussianProcess:
    u = np.linspace(0, 1, side)
    U = np.stack(np.meshgrid(u, u), -1).reshape(-1, 2)
    X = U * [2.0, 1.0]
    gp = GaussianProcess(kernel="matern52", input_bounds=BOX)
    gp.set_data(X, np.sin(3 * X[:, 0]) * np.cos(4 * X[:, 1]), np.full(len(X), 1e-4))
    gp.set_hyperparameters({"kernel.base.lengthscale": 0.1})
    return gp


def test_it_keeps_the_nearest_points_of_each_query_and_nothing_else() -> None:
    gp = grid_model(40)  # 1600 points
    Q = np.array([[0.2, 0.2], [1.7, 0.9]])
    local = near(gp, Q, neighbours=50)
    assert local is not gp and local.n <= 100
    unit = (gp.X - [0.0, 0.0]) / [2.0, 1.0]
    for q in (Q - [0.0, 0.0]) / [2.0, 1.0]:
        distance = np.linalg.norm(unit - q, axis=1)
        nearest = gp.X[np.argsort(distance)[:50]]
        kept = {tuple(row) for row in local.X}
        assert all(tuple(row) in kept for row in nearest)
    assert local.hyperparameters() == gp.hyperparameters()


def test_near_the_queries_it_predicts_as_the_whole_model_does() -> None:
    gp = grid_model(40)
    Q = np.random.default_rng(0).uniform([0, 0], [2, 1], (4, 2))
    exact, local = gp.predict(Q), near(gp, Q).predict(Q)
    np.testing.assert_allclose(local.std, exact.std, rtol=1e-3)
    np.testing.assert_allclose(local.mean, exact.mean, atol=1e-3 * np.std(gp.y))


def test_small_models_are_kept_whole() -> None:
    gp = grid_model(20)  # 400 points: 2 x 128 x 2 queries would keep more than half
    assert near(gp, np.array([[0.5, 0.5], [1.5, 0.5]])) is gp


def test_neighbours_must_be_positive() -> None:
    with pytest.raises(InputError, match="neighbours"):
        near(grid_model(5), np.array([[0.5, 0.5]]), neighbours=0)
