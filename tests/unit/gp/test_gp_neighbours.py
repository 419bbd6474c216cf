"""The large-map model (:class:`gpsteer.gp.neighbours.NeighbourGP`) against the exact GP."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from gpsteer.errors import ConfigurationError, InputError
from gpsteer.gp import FunctionKernel, GaussianProcess
from gpsteer.gp.neighbours import NeighbourGP, model_for_size, supports_neighbours

BOX = [(0.0, 2.0), (0.0, 1.0)]  # not a unit box: neighbours are found in unit-box terms


def field(X: np.ndarray) -> np.ndarray:
    return np.sin(3 * X[:, 0]) * np.cos(4 * X[:, 1])


def exact_model(n: int, kernel: str = "matern52", seed: int = 0) -> GaussianProcess:
    rng = np.random.default_rng(seed)
    X = rng.random((n, 2)) * [2.0, 1.0]
    gp = GaussianProcess(kernel=kernel, input_bounds=BOX)
    gp.set_data(X, field(X) + 0.01 * rng.standard_normal(n))
    gp.set_hyperparameters({"kernel.base.lengthscale": [0.2, 0.3], "noise.variance": 1e-3})
    return gp


def queries(m: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).random((m, 2)) * [2.0, 1.0]


@pytest.mark.parametrize("kernel", ["matern52", "edge"])
def test_with_every_point_as_neighbour_it_is_the_exact_gp(kernel: str) -> None:
    gp = exact_model(120, kernel)
    local = NeighbourGP.from_model(gp, neighbours=120)
    Q = queries(40)
    exact, approx = gp.predict(Q), local.predict(Q)
    np.testing.assert_allclose(approx.mean, exact.mean, rtol=0, atol=1e-8)
    np.testing.assert_allclose(approx.variance, exact.variance, rtol=0, atol=1e-8)
    np.testing.assert_allclose(
        local.posterior_mean(Q).detach().numpy(), exact.mean, rtol=0, atol=1e-8
    )


def test_with_few_neighbours_it_predicts_nearly_as_the_exact_gp() -> None:
    gp = exact_model(1500)
    local = NeighbourGP.from_model(gp, neighbours=64)
    Q = queries(300)
    exact, approx = gp.predict(Q), local.predict(Q)
    error = np.linalg.norm(approx.mean - exact.mean) / np.linalg.norm(exact.mean)
    assert error < 0.01
    # fewer data, never a smaller uncertainty than the exact one (to rounding)
    assert np.all(approx.variance >= exact.variance * (1 - 1e-6) - 1e-12)


def test_neighbours_are_the_nearest_in_the_kernels_metric_also_among_the_newest() -> None:
    gp = NeighbourGP.from_model(exact_model(800), neighbours=30)
    gp.nearest(queries(1))  # builds the search tree on the first 800 points
    rng = np.random.default_rng(5)
    X_new = rng.random((200, 2)) * [2.0, 1.0]
    gp.append(X_new, field(X_new))  # fewer than a quarter more: searched by brute force
    Q = queries(25, seed=7)
    index = gp.nearest(Q)
    scale = 1.0 / np.array([0.2, 0.3])  # unit box divided by the length scales
    U = gp.X / [2.0, 1.0] * scale
    for q, found in zip(Q / [2.0, 1.0] * scale, index, strict=True):
        distance = np.linalg.norm(U - q, axis=1)
        assert set(found) == set(np.argsort(distance)[:30])
    assert np.any(index >= 800)  # the newest points are found too


def test_the_posterior_is_differentiable_in_the_query_points() -> None:
    gp = NeighbourGP.from_model(exact_model(600, "edge"), neighbours=40)
    x = torch.tensor([[0.7, 0.4]], dtype=torch.float64, requires_grad=True)
    post = gp.posterior(x)
    (grad,) = torch.autograd.grad(post.mean.sum() + post.variance.sum(), x)
    step = 1e-6
    numeric = []
    for i in range(2):
        shift = np.zeros((1, 2))
        shift[0, i] = step
        up, down = gp.predict(x.detach().numpy() + shift), gp.predict(x.detach().numpy() - shift)
        numeric.append(((up.mean + up.variance) - (down.mean + down.variance))[0] / (2 * step))
    np.testing.assert_allclose(grad.numpy()[0], numeric, rtol=1e-4, atol=1e-6)


def test_a_joint_posterior_is_the_exact_gp_on_the_union_of_the_neighbours() -> None:
    gp = NeighbourGP.from_model(exact_model(900), neighbours=50)
    Q = queries(3)
    joint = gp.posterior(Q, full_cov=True)
    union = gp.subset(np.unique(gp.nearest(Q)))
    assert type(union) is GaussianProcess and union.n <= 150
    expected = union.posterior(Q, full_cov=True).covariance
    torch.testing.assert_close(joint.covariance, expected)
    assert torch.all(torch.linalg.eigvalsh(joint.covariance) > -1e-12)


def test_subsets_up_to_the_exact_limit_are_exact_models() -> None:
    gp = NeighbourGP.from_model(exact_model(700), exact_limit=500)
    small = gp.subset(np.arange(400))
    large = gp.subset(np.arange(600))
    assert type(small) is GaussianProcess and small.n == 400
    assert isinstance(large, NeighbourGP) and large.n == 600
    assert small.hyperparameters() == gp.hyperparameters()


def test_the_likelihood_is_the_exact_one_on_an_evenly_spread_sample() -> None:
    gp = exact_model(900)
    local = NeighbourGP.from_model(gp, training_size=300)
    sample = local.sample_index()
    assert sample.size == 300 and sample[0] == 0 and sample[-1] == 899
    expected = gp.subset(sample).log_marginal_likelihood() * 900 / 300
    torch.testing.assert_close(local.log_marginal_likelihood(), expected)
    whole = NeighbourGP.from_model(gp, training_size=2000)  # the sample is all the data
    torch.testing.assert_close(whole.log_marginal_likelihood(), gp.log_marginal_likelihood())


def test_leave_one_out_uses_the_nearest_other_points() -> None:
    gp = exact_model(150)
    local = NeighbourGP.from_model(gp, neighbours=149)  # every other point
    at = np.array([0, 17, 149])
    torch.testing.assert_close(
        local.leave_one_out_residuals(at), gp.leave_one_out_residuals(at), rtol=0, atol=1e-8
    )
    assert local.leave_one_out_residuals().shape == (150,)  # the sample: all of 150


def test_conditioning_copies_and_the_factor_is_refused() -> None:
    gp = NeighbourGP.from_model(exact_model(300))
    fantasy = gp.condition_on(queries(2))
    assert fantasy.n == 302 and gp.n == 300
    with pytest.raises(ConfigurationError, match="no global factor"):
        gp._factor()


def test_it_pickles_without_its_search_tree() -> None:
    gp = NeighbourGP.from_model(exact_model(300), neighbours=20)
    Q = queries(5)
    before = gp.predict(Q).mean
    copy = pickle.loads(pickle.dumps(gp))
    assert copy._tree is None
    np.testing.assert_array_equal(copy.predict(Q).mean, before)


def test_the_model_for_a_size() -> None:
    gp = exact_model(300)
    assert model_for_size(gp, None) is gp
    assert model_for_size(gp, 300) is gp
    assert isinstance(model_for_size(gp, 299), NeighbourGP)
    assert isinstance(model_for_size(gp, 250, adding=0), NeighbourGP)
    assert isinstance(model_for_size(gp, 300, adding=1), NeighbourGP)


def test_a_kernel_that_cannot_be_batched_keeps_the_exact_gp() -> None:
    def numpy_kernel(x1, x2, p):  # leaves torch: vmap cannot batch it
        d = np.abs(x1.detach().numpy()[:, None, 0] - x2.detach().numpy()[None, :, 0])
        return torch.as_tensor(np.exp(-d / float(p["scale"])))

    kernel = FunctionKernel(numpy_kernel, {"scale": (0.3, (1e-3, 10.0))})
    gp = GaussianProcess(kernel=kernel, input_bounds=BOX)
    X = queries(20)
    gp.set_data(X, field(X))
    assert not supports_neighbours(gp)
    assert model_for_size(gp, 10) is gp


def test_bad_options_are_refused() -> None:
    with pytest.raises(InputError, match="neighbours must be a positive integer"):
        NeighbourGP.from_model(exact_model(10), neighbours=0)


def test_the_polish_stand_in_of_a_large_map_is_exact_on_the_neighbours() -> None:
    from gpsteer.gp.local import near

    gp = NeighbourGP.from_model(exact_model(1200), neighbours=40)
    Q = queries(2)
    stand_in = near(gp, Q, neighbours=50)
    assert type(stand_in) is GaussianProcess
    assert set(map(tuple, stand_in.X)) == set(map(tuple, gp.X[np.unique(gp.nearest(Q, 50))]))


def test_new_data_are_searched_anew() -> None:
    gp = NeighbourGP.from_model(exact_model(400), neighbours=10)
    gp.nearest(queries(1))  # a tree over the first data
    X = queries(500, seed=11)
    gp.set_data(X, field(X))
    q = queries(1, seed=12)
    distance = np.linalg.norm((X - q) / [2.0, 1.0] / [0.2, 0.3], axis=1)
    assert set(gp.nearest(q)[0]) == set(np.argsort(distance)[:10])


def test_a_joint_posterior_too_large_for_an_exact_model_is_refused() -> None:
    gp = NeighbourGP.from_model(exact_model(900), neighbours=50, exact_limit=100)
    with pytest.raises(ConfigurationError, match="fewer points at a time"):
        gp.posterior(queries(20), full_cov=True)
