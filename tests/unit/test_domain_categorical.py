"""Categorical and mixed kernels: the category covariance, its checks, what training learns."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from gpsteer.errors import InputError, ShapeError, UnknownNameError
from gpsteer.gp import GaussianProcess, fit_hyperparameters
from gpsteer.gp.kernels import Categorical, Matern, mixed_kernel

D = torch.float64
BOUNDS = [(0.0, 1.0), (0.0, 2.0)]  # position, sample 0..2


def _unit(X: np.ndarray) -> torch.Tensor:
    b = np.asarray(BOUNDS)
    return torch.as_tensor((X - b[:, 0]) / (b[:, 1] - b[:, 0]), dtype=D)


def _mixed_points(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(0, 1, n), rng.integers(0, 3, n)])


@pytest.mark.parametrize("structure", ["exchangeable", "lowrank"])
def test_covariance_matrix_is_psd_and_indexed_by_category(structure):
    k = Categorical(3, dim=1, structure=structure, rank=2)
    X = _mixed_points(12, 0)
    u = _unit(X)
    k.bind(u)
    B = k.covariance_matrix().detach()
    assert torch.linalg.eigvalsh(B).min() > 0
    K = k(u).detach()
    c = X[:, 1].astype(int)
    torch.testing.assert_close(K, B[c][:, c])
    torch.testing.assert_close(k.diag(u).detach(), B.diagonal()[c])


def test_exchangeable_values():
    k = Categorical(4, dim=0, structure="exchangeable", column_bounds=(0, 3))
    k.hyperparameter("correlation").set_value(0.25)
    B = k.covariance_matrix().detach()
    assert B[0, 0].item() == pytest.approx(1.0)
    assert B[0, 3].item() == pytest.approx(0.25)


def test_mixed_kernel_is_category_times_continuous():
    k = mixed_kernel(2, categorical_dim=1, n_categories=3)
    X = _mixed_points(10, 1)
    u = _unit(X)
    k.bind(u)
    B = k.k1.covariance_matrix().detach()
    c = X[:, 1].astype(int)
    cont = Matern(lengthscale=k.k2.lengthscale.detach().tolist())
    cont.bind(u[:, :1])
    torch.testing.assert_close(k(u).detach(), B[c][:, c] * cont(u[:, :1]).detach())
    assert k.k2.active_dims == (0,)


def test_gradients_flow_to_the_category_parameters():
    k = mixed_kernel(2, categorical_dim=1, n_categories=3, rank=2)
    u = _unit(_mixed_points(8, 2))
    k.bind(u)
    hps = [hp for _, hp in k.named_hyperparameters()]
    raws = [hp.raw.detach().clone().requires_grad_() for hp in hps]

    def cov(*r):
        for hp, raw in zip(hps, r, strict=True):
            hp.raw = raw
        return k(u[:5], u[5:])

    assert torch.autograd.gradcheck(cov, tuple(raws))


def test_non_integer_categories_are_rejected_with_advice():
    k = Categorical(3, dim=1)
    u = _unit(np.array([[0.2, 0.5], [0.3, 1.0]]))
    with pytest.raises(InputError, match=r"integers 0..2.*input_bounds"):
        k(u)
    with pytest.raises(InputError):
        Categorical(1, dim=0)
    with pytest.raises(UnknownNameError):
        Categorical(3, dim=0, structure="full")
    with pytest.raises(ShapeError):
        mixed_kernel(2, categorical_dim=2, n_categories=3)
    with pytest.raises(InputError, match="without active_dims"):
        mixed_kernel(2, 1, 3, continuous=Matern(active_dims=[0]))


def test_pickles():
    k = mixed_kernel(2, 1, 3)
    u = _unit(_mixed_points(5, 3))
    k.bind(u)
    torch.testing.assert_close(pickle.loads(pickle.dumps(k))(u), k(u))


def _fit_correlation(same: bool) -> float:
    """Two samples measuring the same function (``same``) or independent ones."""
    rng = np.random.default_rng(4)
    x = rng.uniform(0, 1, 40)
    c = np.repeat([0, 1], 20)
    y = np.where(c == 0, np.sin(6 * x), np.sin(6 * x) if same else np.cos(9 * x + 1))
    kernel = mixed_kernel(2, 1, 2, structure="exchangeable")
    gp = GaussianProcess(kernel=kernel, input_bounds=[(0, 1), (0, 1)])
    gp.set_data(np.column_stack([x, c]), y + 0.01 * rng.standard_normal(40))
    fit_hyperparameters(gp, n_starts=2, seed=0)
    return gp.hyperparameters()["kernel.k1.correlation"][0]


def test_training_learns_how_alike_the_samples_are():
    assert _fit_correlation(same=True) > 0.95
    assert _fit_correlation(same=False) < 0.5


def test_a_second_sample_helps_predict_the_first():
    """Sample 1 is sample 0 plus an offset: sparse data on sample 0 borrow from sample 1."""
    rng = np.random.default_rng(5)
    x0, x1 = rng.uniform(0, 1, 6), rng.uniform(0, 1, 30)
    X = np.vstack([np.column_stack([x0, np.zeros(6)]), np.column_stack([x1, np.ones(30)])])
    y = np.sin(6 * X[:, 0]) + 0.5 * X[:, 1]
    xt = np.column_stack([np.linspace(0, 1, 200), np.zeros(200)])
    errors = {}
    for name, kernel in [
        ("mixed", mixed_kernel(2, 1, 2, rank=2)),
        ("sample 0 only", Matern()),
    ]:
        gp = GaussianProcess(kernel=kernel, input_bounds=[(0, 1), (0, 1)])
        keep = slice(None) if name == "mixed" else slice(0, 6)
        gp.set_data(X[keep], y[keep])
        fit_hyperparameters(gp, n_starts=2, seed=0)
        errors[name] = np.sqrt(np.mean((gp.predict(xt).mean - np.sin(6 * xt[:, 0])) ** 2))
    assert errors["mixed"] < 0.5 * errors["sample 0 only"]
