"""Spectra as outputs: the PCA reduction, noise through it, the spectral GP and its scores."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gpsteer.acquisition import cluster_spectra, region_discovery, total_variance
from gpsteer.errors import ConfigurationError, InputError, NotFittedError, ShapeError
from gpsteer.gp.multioutput import PCABasis, SpectralGP, poisson_variance

E = np.linspace(-1.0, 1.0, 48)
BOUNDS = [(0.0, 1.0), (0.0, 1.0)]


def spectra(X: np.ndarray) -> np.ndarray:
    """Expected counts: a peak that disperses with x inside a disc, background outside."""
    inside = (X[:, 0] - 0.5) ** 2 + (X[:, 1] - 0.5) ** 2 < 0.09
    centre = 0.6 * X[:, 0] - 0.3
    peak = 150.0 * np.exp(-0.5 * ((E[None] - centre[:, None]) / 0.1) ** 2)
    return 10.0 + 5.0 * X[:, 1:2] + inside[:, None] * peak


@pytest.fixture(scope="module")
def measured() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, (50, 2))
    return X, rng.poisson(spectra(X)).astype(float)


@pytest.fixture(scope="module")
def model(measured) -> SpectralGP:
    m = SpectralGP(BOUNDS, n_components=4, refresh_growth=None)
    m.set_data(*measured, channel_variance="poisson")
    m.fit(n_starts=2, seed=0, max_iter=100)
    return m


# ----------------------------------------------------------------------------- reduction
def test_spectra_round_trip_through_the_reduction():
    rng = np.random.default_rng(1)
    Y = rng.normal(size=(12, 3)) @ rng.normal(size=(3, 20)) + 5.0  # rank 3 plus a mean
    basis = PCABasis.fit(Y, n_components=3)
    np.testing.assert_allclose(basis.reconstruct(basis.project(Y)), Y, atol=1e-10)
    np.testing.assert_allclose(basis.components.T @ basis.components, np.eye(3), atol=1e-12)
    assert basis.explained_variance_ratio.sum() == pytest.approx(1.0)
    assert PCABasis.fit(Y, variance_fraction=0.999999).n_components == 3
    np.testing.assert_allclose(basis.residual_variance(Y), 0.0, atol=1e-20)


def test_component_count_follows_the_variance_fraction():
    rng = np.random.default_rng(2)
    Y = np.outer(rng.normal(size=30), np.ones(10)) * 10 + rng.normal(size=(30, 10)) * 0.1
    assert PCABasis.fit(Y, variance_fraction=0.9).n_components == 1
    assert PCABasis.fit(Y, variance_fraction=1.0, max_components=4).n_components == 4


def test_projected_variance_is_the_variance_of_the_projected_noise():
    rng = np.random.default_rng(3)
    basis = PCABasis.fit(rng.normal(size=(20, 6)), n_components=2)
    s = rng.uniform(0.5, 3.0, size=(1, 6))  # per-channel noise variance of one spectrum
    expected = np.diag(basis.components.T @ np.diag(s[0]) @ basis.components)
    np.testing.assert_allclose(basis.project_variance(s)[0], expected, rtol=1e-12)
    noise = rng.normal(size=(200_000, 6)) * np.sqrt(s)
    empirical = (noise @ basis.components).var(axis=0)
    np.testing.assert_allclose(empirical, expected, rtol=0.02)


def test_poisson_variance():
    np.testing.assert_array_equal(poisson_variance(np.array([0.0, 4.0])), [1.0, 4.0])
    with pytest.raises(InputError):
        poisson_variance(np.array([-1.0]))


# ----------------------------------------------------------------------------- model
def test_component_gps_get_the_projected_poisson_noise(model, measured):
    _, Y = measured
    expected = model.basis.project_variance(np.maximum(Y, 1.0))
    for k, gp in enumerate(model.gps):
        np.testing.assert_allclose(gp.noise_variance, expected[:, k])
        np.testing.assert_allclose(gp.y, model.basis.project(Y)[:, k])


def test_predict_returns_whole_spectra_with_uncertainty(model):
    rng = np.random.default_rng(4)
    Xt = rng.uniform(0, 1, (300, 2))
    post = model.predict(Xt)
    assert post.mean.shape == post.variance.shape == (300, E.size)
    assert post.component_mean.shape == post.component_variance.shape == (300, 4)
    truth = spectra(Xt)
    nrmse = np.sqrt(np.mean((post.mean - truth) ** 2)) / np.ptp(truth)
    assert nrmse < 0.08
    # channel variance is the component variance pushed through the basis
    np.testing.assert_allclose(
        post.variance, post.component_variance @ (model.basis.components**2).T, rtol=1e-12
    )
    np.testing.assert_allclose(post.total_variance, post.component_variance.sum(1), rtol=1e-10)
    np.testing.assert_allclose(total_variance(model, Xt), post.total_variance, rtol=1e-10)
    with_trunc = model.predict(Xt[:3], include_truncation=True).variance
    np.testing.assert_allclose(
        with_trunc - post.variance[:3], np.broadcast_to(model.truncation_variance, (3, E.size))
    )


def test_components_are_differentiable_in_the_inputs(model):
    Xq = torch.tensor([[0.3, 0.4], [0.7, 0.5]], dtype=torch.float64, requires_grad=True)
    mean, var = model.posterior_components(Xq)
    (mean.sum() + var.sum()).backward()
    assert torch.isfinite(Xq.grad).all() and Xq.grad.abs().sum() > 0


def test_images_keep_their_shape():
    rng = np.random.default_rng(5)
    X = rng.uniform(0, 1, (10, 1))
    Y = np.stack([np.outer(np.sin(3 * x + np.arange(4)), np.arange(5)) for x in X[:, 0]])
    m = SpectralGP([(0, 1)], n_components=2)
    m.set_data(X, Y)
    assert m.predict(X[:3]).mean.shape == (3, 4, 5)
    assert m.Y.shape == (10, 4, 5)


def test_append_without_refresh_projects_onto_the_current_basis(measured):
    X, Y = measured
    m = SpectralGP(BOUNDS, n_components=3, refresh_growth=None)
    m.set_data(X[:40], Y[:40], channel_variance="poisson")
    m.append(X[40:], Y[40:], channel_variance="poisson")  # O(N^2) update, no refresh
    assert m.n == 50 and m._n_at_basis == 40
    Z = m.basis.project(Y)
    nv = m.basis.project_variance(np.maximum(Y, 1.0))
    Xt = np.random.default_rng(6).uniform(0, 1, (20, 2))
    fresh = []
    for k, gp in enumerate(m.gps):
        np.testing.assert_allclose(gp.y, Z[:, k])
        np.testing.assert_allclose(gp.noise_variance, nv[:, k])
        fresh.append(gp.subset(np.arange(50)).predict(Xt).mean)  # refactored from scratch
    expected = m.basis.reconstruct(np.column_stack(fresh))
    np.testing.assert_allclose(m.predict(Xt).mean, expected, rtol=1e-9, atol=1e-9)


def test_refresh_keeps_hyperparameters_and_signs(measured):
    X, Y = measured
    m = SpectralGP(BOUNDS, n_components=2, refresh_growth=1.2)
    m.set_data(X[:30], Y[:30], channel_variance="poisson")
    m.gps[0].set_hyperparameters({"kernel.base.lengthscale": [0.123, 0.456]})
    old = m.basis.components.copy()
    m.append(X[30:], Y[30:], channel_variance="poisson")  # 50 >= 1.2 * 30: refresh
    assert m._n_at_basis == 50
    assert (np.sum(m.basis.components * old, axis=0) > 0).all()  # no sign flips
    ls = m.gps[0].hyperparameters()["kernel.base.lengthscale"]
    np.testing.assert_allclose(ls, [0.123, 0.456])


def test_bad_inputs(measured):
    X, Y = measured
    m = SpectralGP(BOUNDS)
    with pytest.raises(NotFittedError):
        m.predict(X[:2])
    with pytest.raises(ShapeError):
        m.set_data(X, Y[:10])
    with pytest.raises(InputError, match="poisson"):
        m.set_data(X, Y, channel_variance="gaussian")
    m.set_data(X[:10], Y[:10])
    with pytest.raises(ConfigurationError):
        m.append(X[10:12], Y[10:12], channel_variance="poisson")
    with pytest.raises(ShapeError):
        m.append(X[10:12], Y[10:12, :5])


# ----------------------------------------------------------------------------- acquisition
def test_clusters_separate_flake_from_substrate(model, measured):
    X, _ = measured
    _, labels = cluster_spectra(model, 2, seed=0)
    inside = (X[:, 0] - 0.5) ** 2 + (X[:, 1] - 0.5) ** 2 < 0.09
    agreement = max(np.mean(labels == inside), np.mean(labels != inside))
    assert agreement > 0.95


def test_region_discovery_scores_the_boundary_above_the_interiors(model):
    # points on the flake's edge vs deep inside it and far outside it
    angles = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    edge = 0.5 + 0.3 * np.column_stack([np.cos(angles), np.sin(angles)])
    interior = 0.5 + 0.1 * np.column_stack([np.cos(angles), np.sin(angles)])
    exterior = np.array([[0.05, 0.05], [0.95, 0.05], [0.05, 0.95], [0.95, 0.95]])
    r = region_discovery(model, np.vstack([edge, interior, exterior]), 2, seed=0)
    assert r.probabilities.shape == (28, 2)
    np.testing.assert_allclose(r.probabilities.sum(1), 1.0)
    assert r.score[:12].mean() > 3 * max(r.score[12:24].mean(), r.score[24:].mean())
    assert r.score.min() >= 0
    again = region_discovery(model, np.vstack([edge, interior, exterior]), 2, seed=0)
    np.testing.assert_array_equal(again.score, r.score)


def test_rarity_weights_favour_small_clusters(model):
    Xq = np.random.default_rng(7).uniform(0, 1, (50, 2))
    flat = region_discovery(model, Xq, 2, rarity_power=0.0)
    rare = region_discovery(model, Xq, 2, rarity_power=1.0)
    small = int(np.argmin(flat.cluster_sizes))
    w = (flat.labels.size / (2 * flat.cluster_sizes)) ** 1.0
    assert w[small] > 1.0
    np.testing.assert_allclose(
        rare.score, (flat.probabilities * (1 - flat.probabilities) * w).sum(1), rtol=1e-12
    )
