"""Properties of exact GP regression that must hold for any data (hypothesis)."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gpsteer.gp import GaussianProcess, HomoscedasticNoise, Matern, ScaleKernel
from gpsteer.gp.model import _output_scale

FAST = settings(max_examples=20, deadline=None, derandomize=True)

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@st.composite
def datasets(draw, min_n: int = 2, max_n: int = 12):
    """Distinct points on a 1/20 grid of the unit box (1 or 2-D), arbitrary outputs."""
    d = draw(st.integers(1, 2))
    n = draw(st.integers(min_n, max_n))
    cells = draw(st.lists(st.integers(0, 21**d - 1), min_size=n, max_size=n, unique=True))
    X = np.array([[(c // 21**k) % 21 / 20 for k in range(d)] for c in cells], dtype=float)
    y = draw(hnp.arrays(np.float64, n, elements=finite))
    return X, y


def _model(d: int, noise: float = 1e-2, lengthscale: float = 0.15, **kw) -> GaussianProcess:
    kernel = ScaleKernel(Matern(nu=2.5, lengthscale=lengthscale))
    nm = HomoscedasticNoise(noise, bounds=(1e-12, 2.0), fixed=True)
    return GaussianProcess(kernel, noise=nm, input_bounds=[(0.0, 1.0)] * d, **kw)


@FAST
@given(data=datasets(), q=hnp.arrays(np.float64, (6, 2), elements=st.floats(-0.2, 1.2)))
def test_posterior_variance_is_between_zero_and_the_prior(data, q):
    X, y = data
    gp = _model(X.shape[1], noise=1e-6)
    gp.set_data(X, y)
    Xq = np.vstack([q[:, : X.shape[1]], X[:3]])  # include training points
    post = gp.predict(Xq, full_cov=True)
    prior = gp.hyperparameters()["kernel.outputscale"][0] * gp.y_scale**2
    assert np.all(post.variance >= 0)
    assert np.all(post.variance <= prior * (1 + 1e-9))
    np.testing.assert_allclose(gp.predict(Xq).variance, np.diag(post.covariance), atol=1e-9 * prior)
    eig = np.linalg.eigvalsh(post.covariance)
    assert eig.min() >= -1e-8 * prior


@FAST
@given(data=datasets())
def test_noise_free_data_are_interpolated(data):
    X, y = data
    gp = _model(X.shape[1], noise=1e-10, lengthscale=0.1)
    gp.set_data(X, y)
    post = gp.predict(X)
    np.testing.assert_allclose(post.mean, y, atol=1e-5 * gp.y_scale, rtol=0)
    assert np.all(post.variance <= 1e-5 * gp.y_scale**2)


@FAST
@given(data=datasets(min_n=3), split=st.integers(1, 10), batches=st.integers(1, 3))
def test_incremental_update_equals_full_refactor(data, split, batches):
    X, y = data
    k = min(split, len(y) - 1)
    gp = _model(X.shape[1])
    gp.set_data(X[:k], y[:k])
    # Outside this ratio append re-standardises instead (tested in test_gp_model.py).
    assume(0.5 <= _output_scale(torch.as_tensor(y)) / gp.y_scale <= 2.0)
    gp.predict(X[:1])  # build the factor, so append takes the O(N^2) path
    for idx in np.array_split(np.arange(k, len(y)), batches):
        if idx.size:
            gp.append(X[idx], y[idx])
    assert gp._cache is not None  # the update path was taken
    L_inc = gp._cache[1].clone()
    Xq = np.vstack([X, np.full((1, X.shape[1]), 0.37)])
    inc = gp.predict(Xq, full_cov=True)
    gp.refactor()
    full = gp.predict(Xq, full_cov=True)
    torch.testing.assert_close(L_inc, gp._cache[1], rtol=1e-8, atol=1e-10)
    s = gp.y_scale
    np.testing.assert_allclose(inc.mean, full.mean, rtol=1e-8, atol=1e-8 * s)
    np.testing.assert_allclose(inc.covariance, full.covariance, rtol=1e-7, atol=1e-9 * s**2)


@FAST
@given(data=datasets(min_n=3))
def test_condition_on_equals_append(data):
    X, y = data
    gp = _model(X.shape[1])
    gp.set_data(X[:-2], y[:-2])
    # Fantasies keep the standardisation; append may re-standardise outside this ratio.
    assume(0.5 <= _output_scale(torch.as_tensor(y)) / gp.y_scale <= 2.0)
    fantasy = gp.condition_on(X[-2:], y[-2:])
    assert gp.n == len(y) - 2  # the original is untouched
    gp.append(X[-2:], y[-2:])
    a, b = fantasy.predict(X), gp.predict(X)
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-10, atol=1e-10 * gp.y_scale)
    np.testing.assert_allclose(a.variance, b.variance, rtol=1e-10, atol=1e-12 * gp.y_scale**2)


@FAST
@given(
    data=datasets(),
    c=st.floats(1e-3, 1e3),
    shift=st.floats(-1e4, 1e4),
)
def test_invariant_to_rescaling_the_inputs(data, c, shift):
    X, y = data
    d = X.shape[1]
    a = GaussianProcess(input_bounds=[(0.0, 1.0)] * d)
    b = GaussianProcess(input_bounds=[(shift, shift + c)] * d)
    a.set_data(X, y)
    b.set_data(shift + X * c, y)
    Xq = np.linspace(0, 1, 5 * d).reshape(5, d)
    pa, pb = a.predict(Xq), b.predict(shift + Xq * c)
    s = a.y_scale
    np.testing.assert_allclose(pa.mean, pb.mean, rtol=1e-7, atol=1e-7 * s)
    np.testing.assert_allclose(pa.variance, pb.variance, rtol=1e-6, atol=1e-9 * s**2)
    lml_a, lml_b = a.log_marginal_likelihood().item(), b.log_marginal_likelihood().item()
    assert abs(lml_a - lml_b) <= 1e-6 * max(1.0, abs(lml_a))


@FAST
@given(data=datasets(), c=st.floats(1e-3, 1e3), shift=st.floats(-1e4, 1e4))
def test_equivariant_to_rescaling_the_outputs(data, c, shift):
    """Standardisation makes the model blind to output units: y -> c y + shift.

    (Constant outputs carry no scale; the model then falls back to ``max(|y|, 1)``.)
    """
    X, y = data
    assume(np.std(y) > 1e-3)
    d = X.shape[1]
    a, b = (GaussianProcess(input_bounds=[(0.0, 1.0)] * d) for _ in range(2))
    a.set_data(X, y)
    b.set_data(X, c * y + shift)
    Xq = np.linspace(0, 1, 4 * d).reshape(4, d)
    pa, pb = a.predict(Xq), b.predict(Xq)
    s = b.y_scale
    np.testing.assert_allclose(c * pa.mean + shift, pb.mean, rtol=1e-7, atol=1e-7 * s)
    np.testing.assert_allclose(c**2 * pa.variance, pb.variance, rtol=1e-6, atol=1e-9 * s**2)
    n = len(y)
    lml_a, lml_b = a.log_marginal_likelihood().item(), b.log_marginal_likelihood().item()
    assert abs(lml_a - n * np.log(c) - lml_b) <= 1e-6 * max(1.0, abs(lml_b))
