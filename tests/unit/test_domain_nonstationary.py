"""Non-stationary kernels: reduce to the stationary ones, stay valid, train with autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gpsteer.errors import ConfigurationError, InputError
from gpsteer.gp import GaussianProcess, fit_hyperparameters
from gpsteer.gp.kernels import (
    AmplitudeField,
    Gibbs,
    InputWarping,
    Matern,
    ScaleKernel,
    SquaredExponential,
)
from gpsteer.gp.kernels.nonstationary import BumpBasis
from tests.unit.gp.contracts import KernelContract
from tests.unit.gp.gp_reference import k_matern, k_se

D = torch.float64


def _u(n: int, d: int, seed: int) -> torch.Tensor:
    return torch.rand(n, d, dtype=D, generator=torch.Generator().manual_seed(seed))


def _front(x: np.ndarray) -> np.ndarray:
    """Flat, then a sharp step at 0.7: one length scale cannot fit both."""
    return np.tanh((x[:, 0] - 0.7) / 0.02) + 0.2 * np.sin(3 * x[:, 0])


# ----------------------------------------------------------------------------- reductions
@pytest.mark.parametrize("profile", ["rbf", 0.5, 1.5, 2.5])
def test_gibbs_with_a_flat_field_is_the_stationary_kernel(profile):
    k = Gibbs(n_centres=3, profile=profile, lengthscale=[0.2, 0.4])
    x1, x2 = _u(6, 2, 0), _u(5, 2, 1)
    k.bind(x1)
    ls = np.array([0.2, 0.4])
    ref = (
        k_se(x1.numpy(), x2.numpy(), ls)
        if profile == "rbf"
        else k_matern(x1.numpy(), x2.numpy(), ls, profile)
    )
    np.testing.assert_allclose(k(x1, x2).detach().numpy(), ref, rtol=1e-10, atol=1e-12)


def test_gibbs_length_scale_field_follows_the_weights():
    k = Gibbs(n_centres=2, per_dimension=False, lengthscale=0.1)
    k.bind(_u(4, 1, 0))
    k.hyperparameter("weights").set_value([-1.0, 1.0])
    u = torch.tensor([[0.0], [1.0]], dtype=D)
    ls = k.lengthscale_field(u).detach().squeeze()
    bumps = np.exp(-0.5 * np.array([[0.0, 1.0], [1.0, 0.0]]))  # centres 0 and 1, width 1
    np.testing.assert_allclose(ls.numpy(), 0.1 * np.exp(bumps @ [-1.0, 1.0]), rtol=1e-12)
    assert ls[1] > 2.0 * ls[0]


def test_warping_with_unit_concentrations_is_the_identity():
    k = InputWarping(Matern(lengthscale=[0.3, 0.2]))
    x1, x2 = _u(6, 2, 2), _u(4, 2, 3)
    k.bind(x1)
    np.testing.assert_allclose(
        k(x1, x2).detach().numpy(),
        k_matern(x1.numpy(), x2.numpy(), [0.3, 0.2], 2.5),
        rtol=1e-9,
        atol=1e-9,
    )
    k.hyperparameter("a").set_value([2.0, 1.0])
    w = k.warp(torch.tensor([[0.5, 0.5]], dtype=D)).detach()
    torch.testing.assert_close(w, torch.tensor([[0.25, 0.5]], dtype=D))


def test_amplitude_field_scales_the_variance():
    k = AmplitudeField(SquaredExponential(lengthscale=0.3), n_centres=2)
    x = torch.tensor([[0.0], [1.0]], dtype=D)
    k.bind(x)
    k.hyperparameter("weights").set_value([0.0, 1.0])
    s = np.exp(np.exp(-0.5 * np.array([[0.0, 1.0], [1.0, 0.0]])) @ [0.0, 1.0])
    np.testing.assert_allclose(k.diag(x).detach().numpy(), s**2, rtol=1e-12)
    K = k(x).detach().numpy()
    np.testing.assert_allclose(K[0, 1], s[0] * s[1] * np.exp(-0.5 / 0.09), rtol=1e-12)


def test_too_many_bumps_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="too many"):
        BumpBasis(3, 10)
    with pytest.raises(InputError):
        Gibbs(profile=3.5)


# ----------------------------------------------------------------------------- training
def test_gibbs_is_trained_with_the_rest_and_beats_a_stationary_kernel():
    """On a flat field with a sharp front, the learned length-scale field is short at the
    front and long elsewhere, raises the likelihood, and stops the stationary kernel's
    wiggles away from the front."""
    rng = np.random.default_rng(2)
    X = np.sort(rng.uniform(0, 1, (40, 1)), axis=0)
    y = _front(X) + 0.01 * rng.standard_normal(40)
    Xt = np.linspace(0, 1, 400)[:, None]
    far = np.abs(Xt[:, 0] - 0.7) > 0.1
    results = {}
    for name, kernel in [
        ("stationary", ScaleKernel(Matern())),
        ("gibbs", ScaleKernel(Gibbs(n_centres=6))),
    ]:
        gp = GaussianProcess(kernel=kernel, input_bounds=[(0, 1)])
        gp.set_data(X, y)
        fit = fit_hyperparameters(gp, n_starts=3, seed=1)
        err = np.sqrt(np.mean((gp.predict(Xt).mean - _front(Xt))[far] ** 2))
        results[name] = (fit.log_likelihood_after, err, gp)
    assert results["gibbs"][0] > results["stationary"][0] + 10.0
    assert results["gibbs"][1] < 0.7 * results["stationary"][1]
    gibbs = results["gibbs"][2].kernel.base
    field = gibbs.lengthscale_field(torch.tensor([[0.1], [0.7]], dtype=D)).detach()
    assert field[1, 0] < field[0, 0] / 3.0


def test_gibbs_base_length_scale_has_the_stationary_prior():
    """A flat field is the stationary kernel in training too: same default prior on the
    base length scale as ``Matern`` (``None`` removes it)."""
    from gpsteer.gp.kernels.stationary import DEFAULT_LENGTHSCALE_PRIOR

    k, bare = Gibbs(n_centres=2), Gibbs(n_centres=2, lengthscale_prior=None)
    for kernel in (k, bare):
        kernel.bind(_u(4, 2, 0))
    assert k.hyperparameter("lengthscale").prior is DEFAULT_LENGTHSCALE_PRIOR
    assert bare.hyperparameter("lengthscale").prior is None


def test_gibbs_prior_keeps_an_unused_axis_off_the_bound():
    """Measured in the domain benchmark: without a prior the base length scale of an axis
    the data do not depend on ran to the upper bound (1e2) and the weights had to undo it;
    with the default prior it stays at a few box widths."""
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, (30, 2))
    y = np.tanh((X[:, 0] - 0.6) / 0.05) + 0.01 * rng.standard_normal(30)
    found = {}
    for name, kw in [("default", {}), ("none", {"lengthscale_prior": None})]:
        gp = GaussianProcess(
            kernel=ScaleKernel(Gibbs(n_centres=3, **kw)), input_bounds=[(0, 1)] * 2
        )
        gp.set_data(X, y)
        fit_hyperparameters(gp, n_starts=2, seed=0)
        found[name] = gp.hyperparameters()["kernel.base.lengthscale"][1]
    assert found["none"] > 50.0
    assert 0.3 < found["default"] < 10.0


def test_warping_trains_with_autograd():
    rng = np.random.default_rng(1)
    X = rng.uniform(0, 1, (30, 1))
    y = np.sin(1.0 / (X[:, 0] + 0.15))  # fast near 0, slow near 1
    gp = GaussianProcess(kernel=ScaleKernel(InputWarping(Matern())), input_bounds=[(0, 1)])
    gp.set_data(X, y)
    fit = fit_hyperparameters(gp, n_starts=2, seed=0)
    assert fit.accepted
    assert gp.hyperparameters()["kernel.base.a"][0] != pytest.approx(1.0)


# ----------------------------------------------------------------------------- contracts
def _np_bumps(u: np.ndarray, n: int) -> np.ndarray:
    """Gaussian bumps on an n-per-axis grid of [0, 1]^d, width = spacing (numpy)."""
    ticks = np.linspace(0, 1, n)
    centres = np.stack(np.meshgrid(*[ticks] * u.shape[1], indexing="ij"), -1).reshape(
        -1, u.shape[1]
    )
    d2 = ((u[:, None, :] - centres[None]) ** 2).sum(-1)
    return np.exp(-0.5 * d2 * (n - 1) ** 2)


def _np_gibbs(x1, x2, base_ls, weights, n, per_dimension, profile):
    W = weights.reshape(-1, n ** x1.shape[1]).T
    l1 = base_ls * np.exp(_np_bumps(x1, n) @ W)
    l2 = base_ls * np.exp(_np_bumps(x2, n) @ W)
    l1 = np.broadcast_to(l1, x1.shape)[:, None, :]
    l2 = np.broadcast_to(l2, x2.shape)[None, :, :]
    m = 0.5 * (l1**2 + l2**2)
    pref = np.sqrt(l1 * l2 / m).prod(-1)
    q2 = ((x1[:, None, :] - x2[None, :, :]) ** 2 / m).sum(-1)
    if profile == "rbf":
        return pref * np.exp(-0.5 * q2)
    s = np.sqrt(5 * q2)
    return pref * (1 + s + s * s / 3) * np.exp(-s)


class TestGibbsContract(KernelContract):
    names = ("lengthscale", "weights")

    def make_kernel(self):
        k = Gibbs(n_centres=3, lengthscale=[0.3, 0.4])
        k.bind(_u(5, 2, 42))
        k.hyperparameter("weights").set_value(np.linspace(-0.5, 0.5, 18))
        return k

    def reference(self, k, x1, x2):
        ls, w = self._v(k, "lengthscale"), self._v(k, "weights")
        return _np_gibbs(x1, x2, ls, w, 3, True, 2.5)


class TestGibbsSharedFieldContract(KernelContract):
    names = ("lengthscale", "weights")

    def make_kernel(self):
        k = Gibbs(n_centres=3, per_dimension=False, profile="rbf")
        k.bind(_u(5, 2, 43))
        k.hyperparameter("weights").set_value(np.linspace(0.4, -0.4, 9))
        return k

    def reference(self, k, x1, x2):
        ls, w = self._v(k, "lengthscale"), self._v(k, "weights")
        return _np_gibbs(x1, x2, ls, w, 3, False, "rbf")


class TestWarpingContract(KernelContract):
    names = ("a", "b", "base.lengthscale")

    def make_kernel(self):
        k = InputWarping(Matern(nu=1.5, lengthscale=[0.3, 0.5]))
        k.bind(_u(5, 2, 44))
        k.hyperparameter("a").set_value([0.7, 1.6])
        k.hyperparameter("b").set_value([2.0, 0.8])
        return k

    def reference(self, k, x1, x2):
        a, b = self._v(k, "a"), self._v(k, "b")

        def warp(u):
            return 1 - (1 - np.clip(u, 1e-6, 1 - 1e-6) ** a) ** b

        return k_matern(warp(x1), warp(x2), self._v(k, "base.lengthscale"), 1.5)


class TestAmplitudeFieldContract(KernelContract):
    names = ("weights", "base.lengthscale")

    def make_kernel(self):
        k = AmplitudeField(Matern(lengthscale=0.3), n_centres=3)
        k.bind(_u(5, 2, 45))
        k.hyperparameter("weights").set_value(np.linspace(-1.0, 1.0, 9))
        return k

    def reference(self, k, x1, x2):
        w = self._v(k, "weights")
        s1, s2 = np.exp(_np_bumps(x1, 3) @ w), np.exp(_np_bumps(x2, 3) @ w)
        base = k_matern(x1, x2, self._v(k, "base.lengthscale"), 2.5)
        return s1[:, None] * base * s2[None, :]
