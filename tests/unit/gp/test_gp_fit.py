"""Hyperparameter training: acceptance rule, recovery, multi-start, subsets, priors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import gpsteer.gp.fit as fit_module
from gpsteer.gp import (
    FitStatus,
    GaussianProcess,
    HomoscedasticNoise,
    LocalOptimum,
    LogNormalPrior,
    ScaleKernel,
    SquaredExponential,
    fit_hyperparameters,
)
from gpsteer.gp.fit import deduplicate_optima
from tests.unit.gp.gp_data import BOUNDS, field, sample_inputs
from tests.unit.gp.gp_reference import k_se


def _lml(gp: GaussianProcess) -> float:
    return gp.log_marginal_likelihood(include_prior=True).item()


def _gp_draw(n: int, lengthscale: float, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` noisy draws in 1-D from a zero-mean unit-variance SE GP (unit box)."""
    rng = np.random.default_rng(seed)
    X = np.sort(rng.uniform(size=(n, 1)), axis=0)
    K = k_se(X, X, [lengthscale]) + noise * np.eye(n)
    return X, np.linalg.cholesky(K) @ rng.standard_normal(n)


@pytest.fixture
def small(data) -> tuple[np.ndarray, np.ndarray]:
    X, y = data
    return X[:15], y[:15]


def _fresh(X, y) -> GaussianProcess:
    gp = GaussianProcess(input_bounds=BOUNDS)
    gp.set_data(X, y)
    return gp


@pytest.mark.parametrize("seed", [0, 1])
def test_fit_never_accepts_a_worse_likelihood(small, seed):
    gp = _fresh(*small)
    before = _lml(gp)
    result = gp.fit(n_starts=2, max_iter=60, seed=seed)
    assert result.log_likelihood_before == pytest.approx(before, rel=1e-12)
    assert result.log_likelihood_after >= result.log_likelihood_before
    # what the result reports is what the model now has
    assert _lml(gp) == pytest.approx(result.log_likelihood_after, rel=1e-10)
    assert result.hyperparameters == gp.hyperparameters()
    assert result.status is FitStatus.IMPROVED and result.accepted
    # training again from the optimum keeps it (or gains a little), never loses
    theta, lml = gp.theta.clone(), _lml(gp)
    again = gp.fit(n_starts=1, max_iter=60)
    assert again.log_likelihood_after >= lml
    if again.status is FitStatus.UNCHANGED:
        torch.testing.assert_close(gp.theta, theta, rtol=0, atol=0)
    # the same seed gives the same result
    twin = _fresh(*small)
    assert twin.fit(n_starts=2, max_iter=60, seed=seed).hyperparameters == result.hyperparameters


def test_a_worse_optimum_is_rejected(small, monkeypatch):
    """The acceptance rule itself, with an optimizer that only finds worse points."""
    gp = _fresh(*small)
    theta0, before = gp.theta.clone(), _lml(gp)
    b = gp.theta_bounds()
    worse = b[:, 0] + 0.1 * (b[:, 1] - b[:, 0])
    gp.set_theta(torch.as_tensor(worse))
    worse_nll = -_lml(gp)
    gp.set_theta(theta0)
    assert -worse_nll < before

    def only_worse(model, starts, *, max_iter=200):
        model.set_theta(torch.as_tensor(worse))  # leave the model elsewhere, as L-BFGS-B does
        return [LocalOptimum(worse, worse_nll, True, 3)], 3

    monkeypatch.setattr(fit_module, "minimize_from", only_worse)
    result = fit_hyperparameters(gp, n_starts=2, seed=0)
    assert result.status is FitStatus.UNCHANGED
    assert result.log_likelihood_after == result.log_likelihood_before
    torch.testing.assert_close(gp.theta, theta0, rtol=0, atol=0)


def test_fit_with_nothing_to_train(small):
    X, y = small
    gp = GaussianProcess(
        ScaleKernel(SquaredExponential(fixed=True), fixed=True),
        mean="zero",
        noise=HomoscedasticNoise(fixed=True),
        input_bounds=BOUNDS,
    )
    gp.set_data(X, y)
    result = gp.fit(n_starts=3)
    assert result.status is FitStatus.UNCHANGED
    assert result.optima == ()
    assert result.log_likelihood_after == pytest.approx(_lml(gp))


def test_recovers_a_known_lengthscale():
    X, y = _gp_draw(100, lengthscale=0.12, noise=0.01, seed=4)
    gp = GaussianProcess("rbf", input_bounds=[(0.0, 1.0)])
    gp.set_data(X, y)
    gp.fit(n_starts=3, max_iter=100, seed=0)
    h = gp.hyperparameters()
    assert 0.12 / 1.5 < h["kernel.base.lengthscale"][0] < 0.12 * 1.5
    noise_user = h["noise.variance"][0] * gp.y_scale**2
    assert 0.01 / 3 < noise_user < 0.01 * 3
    amplitude_user = h["kernel.outputscale"][0] * gp.y_scale**2
    assert 1 / 4 < amplitude_user < 4


def test_multi_start_returns_ranked_distinct_optima():
    """A periodic signal: periods p, 2p, ... are separate basins of the likelihood."""
    rng = np.random.default_rng(0)
    X = np.sort(rng.uniform(size=(30, 1)), axis=0)
    y = np.sin(2 * np.pi * X[:, 0] / 0.2) + 0.1 * rng.standard_normal(30)
    gp = GaussianProcess("periodic", input_bounds=[(0.0, 1.0)])
    gp.set_data(X, y)
    result = gp.fit(n_starts=4, max_iter=40, seed=0)
    optima = result.optima
    assert 2 <= len(optima) <= 4
    nll = [o.neg_log_likelihood for o in optima]
    assert nll == sorted(nll)
    width = np.ptp(gp.theta_bounds(), axis=1)
    for i, a in enumerate(optima):
        for b in optima[:i]:
            assert np.max(np.abs(a.theta - b.theta) / width) > 0.05
    assert -nll[0] == pytest.approx(result.log_likelihood_after)
    assert result.n_evaluations > len(optima)


def test_deduplicate_keeps_the_best_of_each_cluster():
    bounds = np.array([[0.0, 10.0], [0.0, 10.0]])

    def opt(x, v):
        return LocalOptimum(np.array(x, dtype=float), v, True, 1)

    optima = [opt([1, 1], 5.0), opt([1.2, 1], 4.0), opt([5, 5], 6.0), opt([1, 1.1], 4.5)]
    kept = deduplicate_optima(optima, bounds, tol=0.05)
    assert [o.neg_log_likelihood for o in kept] == [4.0, 6.0]


def test_subset_path_trains_on_a_subset_and_polishes_on_all_data(monkeypatch):
    rng = np.random.default_rng(5)
    X = sample_inputs(60, rng)
    y = field(X) + rng.normal(0.0, 1.0, size=60)
    gp = GaussianProcess(input_bounds=BOUNDS)
    gp.set_data(X, y)
    seen: list[int] = []
    real = fit_module.minimize_from

    def spy(model, starts, **kw):
        seen.append(model.n)
        return real(model, starts, **kw)

    monkeypatch.setattr(fit_module, "minimize_from", spy)
    before = _lml(gp)
    result = gp.fit(n_starts=2, max_iter=60, subset_size=25, seed=0)
    assert seen == [25, 60]
    assert result.n_points == 60 and gp.n == 60
    assert result.log_likelihood_after > before
    assert _lml(gp) == pytest.approx(result.log_likelihood_after, rel=1e-10)


@pytest.mark.parametrize("direction", [-1, 1])
def test_a_prior_pulls_the_lengthscale_its_way(direction):
    X, y = _gp_draw(30, lengthscale=0.15, noise=0.05, seed=3)

    def fitted_lengthscale(prior):
        gp = GaussianProcess(
            ScaleKernel(SquaredExponential(lengthscale_prior=prior)), input_bounds=[(0, 1)]
        )
        gp.set_data(X, y)
        gp.fit(n_starts=2, max_iter=60, seed=0)
        return gp.hyperparameters()["kernel.base.lengthscale"][0], gp

    free, _ = fitted_lengthscale(None)
    target = free * np.exp(direction * 1.0)
    pulled, gp = fitted_lengthscale(LogNormalPrior(float(np.log(target)), 0.1))
    assert (pulled - free) * direction > 0.3 * abs(target - free)
    # include_prior adds exactly the prior's log density at the current value
    hp = gp.kernel.hyperparameter("base.lengthscale")
    diff = _lml(gp) - gp.log_marginal_likelihood().item()
    assert diff == pytest.approx(hp.prior.log_prob(hp.value).item(), rel=1e-12)


def test_starts_stay_inside_narrowed_bounds(small):
    """Typical-value start ranges outside user-narrowed bounds fall back to the bounds."""
    gp = GaussianProcess(
        ScaleKernel(SquaredExponential(), outputscale_bounds=(10.0, 100.0)), input_bounds=BOUNDS
    )
    gp.set_data(*small)
    lo, hi = gp.kernel.hyperparameter("outputscale").start_bounds
    assert 10.0 <= lo < hi <= 100.0
    starts = fit_module._starting_points(gp, 8, np.random.default_rng(0))
    bounds = gp.theta_bounds()
    assert np.all((starts >= bounds[:, 0]) & (starts <= bounds[:, 1]))
    assert np.ptp(starts[:, 0]) > 0.5  # spread over the range, not piled on one bound


def test_prior_log_densities_match_scipy():
    from scipy import stats

    from gpsteer.gp import GammaPrior, NormalPrior

    v = torch.tensor([0.3, 1.7], dtype=torch.float64)
    cases = [
        (NormalPrior(0.5, 2.0), stats.norm(0.5, 2.0)),
        (LogNormalPrior(-0.2, 0.7), stats.lognorm(s=0.7, scale=np.exp(-0.2))),
        (GammaPrior(2.5, 3.0), stats.gamma(a=2.5, scale=1 / 3.0)),
    ]
    for prior, ref in cases:
        assert prior.log_prob(v).item() == pytest.approx(ref.logpdf(v.numpy()).sum(), rel=1e-12)


def test_training_restores_the_thread_count(small):
    gp = _fresh(*small)
    torch.set_num_threads(2)  # the autouse fixture restores the session's setting
    gp.fit(n_starts=1, max_iter=5, num_threads=1)
    assert torch.get_num_threads() == 2
