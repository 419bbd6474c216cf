"""GaussianProcess bookkeeping: devices, sampling, copies, pickling, incremental data."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from gpsteer.gp import GaussianProcess, Periodic, ScaleKernel, SquaredExponential
from tests.unit.gp.gp_data import BOUNDS, field, sample_inputs


@pytest.fixture
def gp(data) -> GaussianProcess:
    X, y = data
    model = GaussianProcess(input_bounds=BOUNDS)
    model.set_data(X, y)
    return model


def test_everything_lives_on_the_cpu_device(data, queries):
    X, y = data
    gp = GaussianProcess(
        ScaleKernel(Periodic(active_dims=[0])) + SquaredExponential(),
        input_bounds=BOUNDS,
        device="cpu",
    )
    gp.set_data(X, y)
    post = gp.posterior(queries)
    assert gp.device == torch.device("cpu")
    assert post.mean.device.type == "cpu" and post.variance.device.type == "cpu"
    for name, hp in gp.named_hyperparameters():
        assert hp.raw.device.type == "cpu" and hp.raw.dtype == torch.float64, name
    assert gp.log_marginal_likelihood().device.type == "cpu"


@pytest.mark.skipif(
    not torch.cuda.is_available(),
    reason="needs a CUDA device: torch.cuda.is_available() is False on this machine",
)
def test_cuda_gives_the_cpu_answer(data, queries):
    X, y = data
    cpu = GaussianProcess(input_bounds=BOUNDS)
    cpu.set_data(X[:20], y[:20])  # the same first data set: the same y_scale
    cpu.append(X[20:], y[20:])
    cpu.fit(n_starts=2, max_iter=30, seed=0)
    cuda = GaussianProcess(input_bounds=BOUNDS, device="cuda")
    cuda.set_data(X[:20], y[:20])
    cuda.set_hyperparameters(cpu.hyperparameters())
    cuda.predict(queries)  # factor on the device, then the incremental update
    cuda.append(X[20:], y[20:])
    assert cuda._cache is not None and cuda._cache[1].device.type == "cuda"
    assert cuda.posterior(queries).mean.device.type == "cuda"
    for name, hp in cuda.named_hyperparameters():
        assert hp.raw.device.type == "cuda", name
    a, b = cpu.predict(queries, full_cov=True), cuda.predict(queries, full_cov=True)
    s = cpu.y_scale
    np.testing.assert_allclose(b.mean, a.mean, rtol=1e-8, atol=1e-8 * s)
    np.testing.assert_allclose(b.covariance, a.covariance, rtol=1e-6, atol=1e-9 * s**2)
    lml_cpu, lml_cuda = cpu.log_marginal_likelihood(), cuda.log_marginal_likelihood()
    assert lml_cuda.item() == pytest.approx(lml_cpu.item(), rel=1e-9)
    before = lml_cuda.item()
    result = cuda.fit(n_starts=2, max_iter=30, seed=0)
    assert result.log_likelihood_after >= result.log_likelihood_before == pytest.approx(before)
    draws = cuda.sample(queries, 3, seed=0)
    assert draws.shape == (3, len(queries)) and np.isfinite(draws).all()


def test_samples_are_seeded_and_have_the_posterior_moments(gp, queries):
    a = gp.sample(queries, 4000, seed=3)
    assert a.shape == (4000, len(queries))
    np.testing.assert_array_equal(a, gp.sample(queries, 4000, seed=3))
    post = gp.predict(queries, full_cov=True)
    sd = np.sqrt(post.variance)
    np.testing.assert_allclose(a.mean(0), post.mean, atol=5 * sd.max() / np.sqrt(4000))
    np.testing.assert_allclose(np.cov(a.T), post.covariance, atol=0.1 * sd.max() ** 2)


def test_unseeded_sampling_leaves_the_global_torch_generator_alone(gp, queries):
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    gp.sample(queries, 2)  # no seed: must not reseed torch's global generator
    torch.testing.assert_close(torch.rand(3), expected)


def test_pickled_model_gives_the_same_posterior(gp, queries):
    gp.fit(n_starts=1, max_iter=20)
    clone = pickle.loads(pickle.dumps(gp))
    a, b = gp.predict(queries, full_cov=True), clone.predict(queries, full_cov=True)
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_array_equal(a.covariance, b.covariance)
    assert clone.hyperparameters() == gp.hyperparameters()


def test_hyperparameter_names_and_theta_agree(gp):
    names = gp.theta_names()
    assert names == [
        "kernel.outputscale",
        "kernel.base.lengthscale[0]",
        "kernel.base.lengthscale[1]",
        "mean.constant",
        "noise.variance",
    ]
    assert gp.theta.shape == (len(names),) and gp.theta_bounds().shape == (len(names), 2)
    lo, hi = gp.theta_bounds().T
    assert np.all(lo < hi) and np.all((gp.theta.numpy() >= lo) & (gp.theta.numpy() <= hi))
    gp.set_hyperparameters({"kernel.base.lengthscale": [0.2, 0.4], "noise.variance": 0.05})
    h = gp.hyperparameters()
    np.testing.assert_allclose(h["kernel.base.lengthscale"], [0.2, 0.4])
    np.testing.assert_allclose(h["noise.variance"], [0.05])


def test_posterior_follows_new_hyperparameters(gp, queries):
    """The cached factor is keyed on the hyperparameters: changing them must show."""
    before = gp.predict(queries).mean
    gp.set_hyperparameters({"kernel.base.lengthscale": [0.05, 0.05]})
    after = gp.predict(queries).mean
    assert np.abs(after - before).max() > 1e-3 * gp.y_scale


def test_subset_shares_hyperparameters_but_not_data(gp):
    sub = gp.subset(np.arange(10))
    assert sub.n == 10 and gp.n == 25
    sub.set_hyperparameters({"noise.variance": 0.2})
    assert gp.hyperparameters()["noise.variance"] == pytest.approx([0.2])


def test_growing_from_one_point_fits_as_well_as_batch_data():
    rng = np.random.default_rng(8)
    X = sample_inputs(40, rng)
    y = field(X)
    batch = GaussianProcess(input_bounds=BOUNDS)
    batch.set_data(X, y)
    grown = GaussianProcess(input_bounds=BOUNDS)
    for i in range(5):  # one reading at a time, as an agent is told them
        grown.append(X[i : i + 1], y[i : i + 1])
    grown.append(X[5:], y[5:])
    assert grown.y_scale == pytest.approx(batch.y_scale, rel=0.5)
    for model in (batch, grown):
        model.fit(n_starts=2, max_iter=60, seed=0)
    Xt = sample_inputs(50, np.random.default_rng(9))
    rmse = [np.sqrt(np.mean((m.predict(Xt).mean - field(Xt)) ** 2)) for m in (batch, grown)]
    assert rmse[1] < 2 * rmse[0] + 0.01 * np.std(y)


def test_fantasy_without_outputs_has_the_exact_variance(gp, queries):
    """condition_on(X) with y=None: posterior variance does not depend on the outputs."""
    new = queries[:3]
    fantasy = gp.condition_on(new)
    real = gp.condition_on(new, np.array([1e3, -1e3, 0.0]))
    assert fantasy.n == real.n == gp.n + 3
    np.testing.assert_allclose(
        fantasy.predict(queries).variance, real.predict(queries).variance, rtol=1e-9
    )
    assert np.all(fantasy.predict(queries).variance <= gp.predict(queries).variance + 1e-12)


def test_the_mean_alone_is_the_posteriors_mean_with_its_gradient(gp, queries):
    """posterior_mean skips the variance's solve; mean and gradient are the same numbers."""
    Xq = torch.tensor(queries, dtype=gp.dtype, requires_grad=True)
    full = gp.posterior(Xq).mean
    (g_full,) = torch.autograd.grad(full.sum(), Xq)
    Xq2 = torch.tensor(queries, dtype=gp.dtype, requires_grad=True)
    alone = gp.posterior_mean(Xq2)
    (g_alone,) = torch.autograd.grad(alone.sum(), Xq2)
    assert torch.equal(alone.detach(), full.detach())
    assert torch.equal(g_alone, g_full)
    assert g_alone.abs().max() > 0
