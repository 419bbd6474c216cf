"""Bad input: each case raises a specific gpsteer error whose message says what to change.

And the two cases that must *not* raise: duplicate inputs without noise (jitter) and
constant outputs.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from gpsteer.errors import (
    ConfigurationError,
    InputError,
    NotFittedError,
    NumericalError,
    NumericalWarning,
    ShapeError,
    UnknownNameError,
)
from gpsteer.gp import (
    GaussianProcess,
    HomoscedasticNoise,
    Hyperparameter,
    Matern,
    MeasuredNoise,
    Periodic,
    ScaleKernel,
    SquaredExponential,
    fit_hyperparameters,
)
from gpsteer.gp.linalg import robust_cholesky
from tests.unit.gp.gp_data import BOUNDS


@pytest.fixture
def gp(data) -> GaussianProcess:
    X, y = data
    model = GaussianProcess(input_bounds=BOUNDS)
    model.set_data(X, y)
    return model


# ---------------------------------------------------------------- shapes
@pytest.mark.parametrize(
    ("X", "y", "exc", "match"),
    [
        (np.zeros((4, 2, 1)), np.zeros(4), ShapeError, r"X must have shape \(n, d\)"),
        (np.zeros((4, 3)), np.zeros(4), ShapeError, r"X has 3 column\(s\); this model has 2"),
        (np.zeros((4, 2)), np.zeros(5), ShapeError, r"X has 4 row\(s\) but y has 5 value"),
        (np.zeros((0, 2)), np.zeros(0), InputError, "no measurements"),
        ([["a", "b"]], [1.0], InputError, "X must be numeric"),
    ],
)
def test_set_data_rejects_bad_shapes(X, y, exc, match):
    model = GaussianProcess(input_bounds=BOUNDS)
    with pytest.raises(exc, match=match):
        model.set_data(X, y)


def test_empty_data_without_bounds_is_an_input_error():
    with pytest.raises(InputError, match="no measurements"):
        GaussianProcess().set_data(np.zeros((0, 2)), np.zeros(0))


def test_append_rejects_wrong_columns_and_empty_batches(gp):
    with pytest.raises(ShapeError, match=r"X has 1 column\(s\); this model has 2"):
        gp.append(np.zeros((2, 1)), np.zeros(2))
    with pytest.raises(InputError, match="no measurements"):
        gp.append(np.zeros((0, 2)), np.zeros(0))
    assert gp.n == 25


def test_query_points_with_wrong_shape(gp):
    with pytest.raises(ShapeError, match=r"Query points must have shape \(m, 2\); got \(3, 3\)"):
        gp.predict(np.zeros((3, 3)))


def test_noise_variance_with_wrong_length(data):
    X, y = data
    with pytest.raises(ShapeError, match=r"noise_variance has 3 value\(s\) for 25"):
        GaussianProcess(input_bounds=BOUNDS).set_data(X, y, noise_variance=np.ones(3))


# ---------------------------------------------------------------- non-finite values
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", ["X", "y"])
def test_non_finite_data(data, bad, where):
    X, y = (a.copy() for a in data)
    (X if where == "X" else y).flat[3] = bad
    with pytest.raises(InputError, match=f"{where} contains NaN or inf; remove those"):
        GaussianProcess(input_bounds=BOUNDS).set_data(X, y)


def test_non_finite_or_negative_noise_variance(data):
    X, y = data
    for nv in (np.full(25, np.nan), -np.ones(25)):
        with pytest.raises(InputError, match="noise_variance must be finite and >= 0"):
            GaussianProcess(input_bounds=BOUNDS).set_data(X, y, noise_variance=nv)


def test_non_finite_query_points(gp):
    with pytest.raises(InputError, match="Query points contain NaN or inf"):
        gp.predict(np.array([[0.0, np.nan]]))


# ---------------------------------------------------------------- bounds
@pytest.mark.parametrize(
    ("bounds", "exc", "match"),
    [
        ([(0.0, 1.0), (2.0, 2.0)], InputError, r"need lo < hi .* dimension\(s\) \[1\]"),
        ([(1.0, 0.0)], InputError, r"need lo < hi .* dimension\(s\) \[0\]"),
        ([(0.0, np.inf)], InputError, "input_bounds must be finite"),
        ([0.0, 1.0], ShapeError, "input_bounds must be a list of \\(lo, hi\\) pairs"),
        ([], ShapeError, "input_bounds must be a list of \\(lo, hi\\) pairs"),
    ],
)
def test_bad_input_bounds(bounds, exc, match):
    with pytest.raises(exc, match=match):
        GaussianProcess(input_bounds=bounds)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"bounds": (2.0, 1.0)}, "must satisfy lo < hi"),
        ({"bounds": (0.0, 1.0)}, "lower bound must be > 0"),
        ({"transform": "softplus"}, "Unknown transform 'softplus'"),
    ],
)
def test_bad_hyperparameter_definition(kwargs, match):
    with pytest.raises(InputError, match=match):
        Hyperparameter(name="ls", raw=torch.zeros(1, dtype=torch.float64), **kwargs)


# ---------------------------------------------------------------- names
def test_unknown_kernel_name():
    with pytest.raises(UnknownNameError, match=r"Unknown kernel 'matern42'; choose one of \["):
        GaussianProcess("matern42")


def test_unknown_mean_name():
    with pytest.raises(UnknownNameError, match=r"Unknown mean 'linear'; choose one of \["):
        GaussianProcess(mean="linear")


def test_unknown_hyperparameter_name(gp):
    with pytest.raises(UnknownNameError, match=r"Unknown hyperparameter\(s\) \['kernel.ls'\]"):
        gp.set_hyperparameters({"kernel.ls": 0.1})


def test_wrong_kind_of_module():
    with pytest.raises(InputError, match="noise must be a NoiseModel; got str"):
        GaussianProcess(noise="gaussian")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="Matern nu must be one of"):
        Matern(nu=2.0)


# ---------------------------------------------------------------- hyperparameter lengths
def test_wrong_length_theta(gp):
    with pytest.raises(ShapeError, match=r"theta must have 5 value\(s\) \(\['kernel.outputscale'"):
        gp.set_theta(np.zeros(4))


def test_wrong_length_hyperparameter_values(gp):
    with pytest.raises(ShapeError, match=r"holds 2 value\(s\); got shape \(3,\)"):
        gp.set_hyperparameters({"kernel.base.lengthscale": [0.1, 0.2, 0.3]})


def test_hyperparameter_value_outside_bounds(gp):
    with pytest.raises(InputError, match=r"outside its bounds .* widen the bounds"):
        gp.set_hyperparameters({"kernel.outputscale": 1e6})


@pytest.mark.parametrize(
    ("kernel", "match"),
    [
        (SquaredExponential(lengthscale=[0.1, 0.2, 0.3]), r"got 3 length scales for 2 input"),
        (Periodic(period=[0.1, 0.2, 0.3]), r"Periodic got 3 period values for 2 dimension"),
        (Matern(active_dims=[0, 5]), r"active_dims \[5\] do not exist in 2-D inputs"),
    ],
)
def test_kernel_does_not_fit_the_input_dimension(data, kernel, match):
    X, y = data
    with pytest.raises(ShapeError, match=match):
        GaussianProcess(kernel, input_bounds=BOUNDS).set_data(X, y)


# ---------------------------------------------------------------- usage order
def test_posterior_before_data():
    with pytest.raises(NotFittedError, match=r"no data yet; call set_data\(X, y\) first"):
        GaussianProcess().predict(np.zeros((1, 2)))


def test_noise_model_and_data_disagree(data):
    X, y = data
    homoscedastic = GaussianProcess(noise=HomoscedasticNoise(), input_bounds=BOUNDS)
    homoscedastic.set_data(X, y, noise_variance=np.ones(25))
    with pytest.raises(ConfigurationError, match="use MeasuredNoise"):
        homoscedastic.predict(X[:2])
    model = GaussianProcess(input_bounds=BOUNDS)
    model.set_data(X, y, noise_variance=np.ones(25))
    with pytest.raises(ConfigurationError, match="Either every measurement comes with"):
        model.append(X[:2], y[:2])


def test_bad_training_options(gp):
    with pytest.raises(InputError, match="n_starts must be >= 1; got 0"):
        fit_hyperparameters(gp, n_starts=0)
    with pytest.raises(InputError, match="n_samples must be >= 1; got 0"):
        gp.sample(np.zeros((1, 2)), n_samples=0)


# ---------------------------------------------------------------- must not raise
def test_duplicate_inputs_without_noise_are_handled_by_jitter(data):
    X, y = data
    Xd, yd = np.vstack([X, X, X[:5]]), np.concatenate([y, y + 0.5, y[:5]])
    noise = MeasuredNoise(learn_floor=False, floor=1e-14, floor_bounds=(1e-15, 1.0))
    gp = GaussianProcess(ScaleKernel(Matern(nu=2.5)), noise=noise, input_bounds=BOUNDS)
    gp.set_data(Xd, yd, noise_variance=np.zeros(len(yd)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NumericalWarning)
        post = gp.predict(X[:4])
        lml = gp.log_marginal_likelihood().item()
    assert np.isfinite(post.mean).all() and np.isfinite(post.variance).all()
    assert np.isfinite(lml)
    # the duplicates' outputs are averaged, not one of them picked
    np.testing.assert_allclose(post.mean[:4], y[:4] + 0.25, atol=0.05 * gp.y_scale)


def test_robust_cholesky_warns_only_for_large_jitter():
    g = torch.Generator().manual_seed(0)
    v = torch.randn(6, 1, dtype=torch.float64, generator=g)
    K = v @ v.T  # rank 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # small jitter: silent
        L = robust_cholesky(K)
    torch.testing.assert_close(L @ L.T, K, atol=1e-8 * K.diagonal().mean(), rtol=0)
    scale = K.diagonal().mean()
    with pytest.warns(NumericalWarning, match="added jitter .* a noise floor avoids it"):
        L = robust_cholesky(K - 0.5e-6 * scale * torch.eye(6, dtype=torch.float64))
    assert torch.isfinite(L).all()
    with pytest.raises(NumericalError, match="not positive definite even with jitter"):
        robust_cholesky(-torch.eye(3, dtype=torch.float64))


@pytest.mark.parametrize("value", [3.0, 0.0, -1e5])
def test_constant_outputs(data, value):
    X, _ = data
    gp = GaussianProcess(input_bounds=BOUNDS)
    gp.set_data(X, np.full(len(X), value))
    post = gp.predict(X[:3])
    np.testing.assert_allclose(post.mean, value, atol=1e-9 * max(1.0, abs(value)))
    assert np.isfinite(post.variance).all()
    assert np.isfinite(gp.log_marginal_likelihood().item())
    result = gp.fit(n_starts=2, seed=0)
    assert np.isfinite(result.log_likelihood_after)
    np.testing.assert_allclose(gp.predict(X[:3]).mean, value, atol=1e-6 * max(1.0, abs(value)))
