"""GP regression against an independent numpy/scipy reference, and its gradients.

The engine works in standardised units (inputs mapped to the unit box by
``input_bounds``, outputs divided by ``gp.y_scale``); the reference works in user
units with scipy's ``multivariate_normal``, so agreement checks the bookkeeping of
the standardisation as well as the linear algebra.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gpsteer.gp import (
    FunctionMean,
    GaussianProcess,
    HomoscedasticNoise,
    LogNormalPrior,
    Matern,
    MeasuredNoise,
    Periodic,
    ScaleKernel,
    SquaredExponential,
)
from gpsteer.gp.linalg import gaussian_log_density
from tests.unit.gp.gp_data import BOUNDS
from tests.unit.gp.gp_reference import k_matern, k_periodic, k_se, reference_gp

D = torch.float64


def _hp(gp: GaussianProcess, name: str) -> np.ndarray:
    return np.asarray(gp.hyperparameters()[name])


def _se_model(X, y, **kw) -> GaussianProcess:
    gp = GaussianProcess(
        ScaleKernel(SquaredExponential(lengthscale=[0.3, 0.2]), outputscale=1.7),
        noise=HomoscedasticNoise(0.02),
        input_bounds=BOUNDS,
        **kw,
    )
    gp.set_data(X, y)
    return gp


def _check_against_reference(gp, kernel_fn, X, y, Xq, noise, mean_fn):
    ref = reference_gp(
        kernel_fn, X, y, Xq, bounds=BOUNDS, y_scale=gp.y_scale, noise=noise, mean_fn=mean_fn
    )
    post = gp.predict(Xq, full_cov=True)
    np.testing.assert_allclose(post.mean, ref["mean"], rtol=1e-9, atol=1e-9 * gp.y_scale)
    atol = 1e-9 * gp.y_scale**2
    np.testing.assert_allclose(post.covariance, ref["cov"], rtol=1e-7, atol=atol)
    np.testing.assert_allclose(gp.predict(Xq).variance, ref["var"], rtol=1e-7, atol=atol)
    lml = gp.log_marginal_likelihood().item()
    assert lml == pytest.approx(ref["lml"], rel=1e-10, abs=1e-8)


def test_se_constant_mean_matches_reference(data, queries):
    X, y = data
    gp = _se_model(X, y)
    c = _hp(gp, "mean.constant")[0]
    ls, s = _hp(gp, "kernel.base.lengthscale"), _hp(gp, "kernel.outputscale")[0]
    assert gp.y_scale == pytest.approx(np.std(y, ddof=1))  # documented standardisation
    _check_against_reference(
        gp,
        lambda a, b: s * k_se(a, b, ls),
        X,
        y,
        queries,
        noise=_hp(gp, "noise.variance")[0],
        mean_fn=lambda Z: np.full(len(Z), c),
    )


@pytest.mark.parametrize("nu", [0.5, 1.5, 2.5])
def test_matern_with_measured_noise_and_function_mean_matches_reference(data, queries, nu):
    X, y = data
    nv = np.random.default_rng(3).uniform(1.0, 9.0, size=len(y))  # user units^2

    def trend(Z, p):
        return p["a"] + p["b"] * (Z[:, 1] - 100.0)

    gp = GaussianProcess(
        ScaleKernel(Matern(nu=nu, lengthscale=[0.5, 0.25]), outputscale=0.8),
        mean=FunctionMean(trend, {"a": (240.0, (0, 500)), "b": (5.0, (-50, 50))}),
        noise=MeasuredNoise(floor=3e-3),
        input_bounds=BOUNDS,
    )
    gp.set_data(X, y, noise_variance=nv)
    ls, s = _hp(gp, "kernel.base.lengthscale"), _hp(gp, "kernel.outputscale")[0]
    _check_against_reference(
        gp,
        lambda a, b: s * k_matern(a, b, ls, nu),
        X,
        y,
        queries,
        noise=nv / gp.y_scale**2 + 3e-3,
        mean_fn=lambda Z: 240.0 + 5.0 * (Z[:, 1] - 100.0),
    )


def test_sum_of_periodic_and_se_matches_reference(data, queries):
    X, y = data
    kern = ScaleKernel(Periodic(period=[0.5, 0.7], lengthscale=0.9)) + 0.3 * SquaredExponential(
        lengthscale=0.4
    )
    gp = GaussianProcess(kern, mean="zero", noise=HomoscedasticNoise(0.05), input_bounds=BOUNDS)
    gp.set_data(X, y)
    h = gp.hyperparameters()
    s1, p, l1 = (
        h["kernel.k1.outputscale"][0],
        h["kernel.k1.base.period"],
        h["kernel.k1.base.lengthscale"],
    )
    s2, l2 = h["kernel.k2.outputscale"][0], h["kernel.k2.base.lengthscale"]
    _check_against_reference(
        gp,
        lambda a, b: s1 * k_periodic(a, b, p, l1) + s2 * k_se(a, b, l2),
        X,
        y,
        queries,
        noise=0.05,
        mean_fn=lambda Z: np.zeros(len(Z)),
    )


def test_posterior_mean_and_variance_at_training_points_are_consistent(data):
    """Noise-included predictive variance exceeds the latent variance by the noise."""
    X, y = data
    gp = _se_model(X, y)
    latent = gp.predict(X[:5]).variance
    noisy = gp.predict(X[:5], include_noise=True).variance
    np.testing.assert_allclose(noisy - latent, 0.02 * gp.y_scale**2, rtol=1e-9)


# ---------------------------------------------------------------- gradients
def test_log_likelihood_gradient_wrt_theta(data):
    """gradcheck through the custom log-density backward and every module."""
    X, y = data
    gp = GaussianProcess(
        ScaleKernel(Matern(nu=2.5, lengthscale_prior=LogNormalPrior(-1.0, 0.5))),
        input_bounds=BOUNDS,
    )
    gp.set_data(X[:12], y[:12])
    theta = gp.theta.clone().requires_grad_()
    assert theta.numel() == 5  # outputscale, 2 length scales, constant, noise

    def lml(t):
        gp.set_theta(t)
        return gp.log_marginal_likelihood(include_prior=True)

    assert torch.autograd.gradcheck(lml, (theta,), atol=1e-6, rtol=1e-5)


def test_log_likelihood_gradient_with_measured_noise_and_periodic(data):
    X, y = data
    gp = GaussianProcess(
        ScaleKernel(Periodic(period=0.6)) * Matern(nu=1.5),
        noise=MeasuredNoise(floor=1e-2),
        input_bounds=BOUNDS,
    )
    gp.set_data(X[:10], y[:10], noise_variance=np.full(10, 4.0))
    theta = gp.theta.clone().requires_grad_()

    def lml(t):
        gp.set_theta(t)
        return gp.log_marginal_likelihood()

    assert torch.autograd.gradcheck(lml, (theta,), atol=1e-6, rtol=1e-5)


def test_custom_log_density_backward_equals_autograd_through_cholesky():
    """The hand-written adjoint against plain autograd of an independent formula."""
    g = torch.Generator().manual_seed(0)
    A = torch.randn(6, 6, dtype=D, generator=g).requires_grad_()
    r = torch.randn(6, dtype=D, generator=g).requires_grad_()

    def sym(a):  # K must be symmetric: the forward reads one triangle only
        return a @ a.T + 6.0 * torch.eye(6, dtype=D)

    ours = gaussian_log_density(sym(A), r)
    gA, gr = torch.autograd.grad(ours, (A, r))
    ref = torch.distributions.MultivariateNormal(torch.zeros(6, dtype=D), sym(A)).log_prob(r)
    rA, rr = torch.autograd.grad(ref, (A, r))
    torch.testing.assert_close(ours, ref)
    torch.testing.assert_close(gA, rA)
    torch.testing.assert_close(gr, rr)
    assert torch.autograd.gradcheck(lambda a, b: gaussian_log_density(sym(a), b), (A, r))


@pytest.mark.parametrize("kernel", ["matern52", "rbf", "periodic"])
def test_posterior_gradient_wrt_query_points(data, queries, kernel):
    X, y = data
    gp = GaussianProcess(kernel, input_bounds=BOUNDS)
    gp.set_data(X, y)
    Xq = torch.as_tensor(queries[:4], dtype=D).requires_grad_()
    assert torch.autograd.gradcheck(lambda q: gp.posterior(q).mean, (Xq,))
    assert torch.autograd.gradcheck(lambda q: gp.posterior(q).variance, (Xq,))
    assert torch.autograd.gradcheck(lambda q: gp.posterior(q, full_cov=True).covariance, (Xq,))


def test_posterior_mean_gradient_matches_reference_derivative(data):
    """d mean / d x in user units, against the SE kernel's analytic derivative."""
    X, y = data
    gp = _se_model(X, y)
    xq = torch.tensor([[1.0, 101.0]], dtype=D, requires_grad=True)
    (grad,) = torch.autograd.grad(gp.posterior(xq).mean.sum(), xq)
    ls, s = _hp(gp, "kernel.base.lengthscale"), _hp(gp, "kernel.outputscale")[0]
    width = BOUNDS[:, 1] - BOUNDS[:, 0]
    Xn, xn = (X - BOUNDS[:, 0]) / width, (xq.detach().numpy() - BOUNDS[:, 0]) / width
    K = s * k_se(Xn, Xn, ls) + _hp(gp, "noise.variance")[0] * np.eye(len(X))
    alpha = np.linalg.solve(K, (y - _hp(gp, "mean.constant")[0]) / gp.y_scale)
    kq = s * k_se(xn, Xn, ls)[0]
    dk = -kq[:, None] * (xn - Xn) / ls**2 / width  # d k / d x_user
    np.testing.assert_allclose(grad.numpy()[0], gp.y_scale * dk.T @ alpha, rtol=1e-8)
