"""A physics model as prior mean: training recovers its parameters and the GP keeps only
the deviation from it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gpsteer.gp import FunctionMean, GaussianProcess, fit_hyperparameters

CENTRE, WIDTH, HEIGHT = 0.62, 0.08, 2.0


def peak(X: torch.Tensor, p: dict[str, torch.Tensor]) -> torch.Tensor:
    """A Bragg peak across a 1-D scan (module level, so the model pickles for Dask)."""
    return p["height"] * torch.exp(-0.5 * ((X[:, 0] - p["centre"]) / p["width"]) ** 2)


def deviation(x: np.ndarray) -> np.ndarray:
    """What the physics model does not know: a slow background."""
    return 0.1 * np.sin(5.0 * x[:, 0])


def truth(x: np.ndarray) -> np.ndarray:
    return HEIGHT * np.exp(-0.5 * ((x[:, 0] - CENTRE) / WIDTH) ** 2) + deviation(x)


def _physics_gp() -> GaussianProcess:
    mean = FunctionMean(
        peak,
        {
            "height": (1.0, (0.1, 10.0), "log"),
            "centre": (0.5, (0.0, 1.0)),
            "width": (0.1, (0.01, 0.5), "log"),
        },
    )
    return GaussianProcess(mean=mean, input_bounds=[(0.0, 1.0)])


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, (30, 1))
    return X, truth(X) + 0.01 * rng.standard_normal(30)


@pytest.fixture(scope="module")
def trained(data) -> GaussianProcess:
    gp = _physics_gp()
    gp.set_data(*data)
    fit_hyperparameters(gp, n_starts=4, seed=0)
    return gp


def test_training_recovers_the_physics_parameters(trained):
    hp = trained.hyperparameters()
    assert hp["mean.centre"][0] == pytest.approx(CENTRE, abs=0.005)
    assert hp["mean.width"][0] == pytest.approx(WIDTH, rel=0.05)
    assert hp["mean.height"][0] == pytest.approx(HEIGHT, rel=0.05)


def test_the_gp_learns_only_the_deviation(trained, data):
    Xt = np.linspace(0, 1, 300)[:, None]
    with torch.no_grad():
        physics = trained.mean(torch.as_tensor(Xt)).numpy()
    learned = trained.predict(Xt).mean - physics
    err = np.sqrt(np.mean((learned - deviation(Xt)) ** 2))
    assert err < 0.2 * np.ptp(deviation(Xt))
    # The kernel's prior variance (user units) is of the order of the deviation's, far
    # below the variance of the data, which the physics model explains.
    prior_var = trained.hyperparameters()["kernel.outputscale"][0] * trained.y_scale**2
    assert prior_var < 0.1 * np.var(data[1])


def test_physics_mean_beats_a_constant_mean(trained, data):
    Xt = np.linspace(0, 1, 300)[:, None]
    plain = GaussianProcess(input_bounds=[(0.0, 1.0)])
    plain.set_data(*data)
    fit_hyperparameters(plain, n_starts=4, seed=0)
    errors = [np.sqrt(np.mean((gp.predict(Xt).mean - truth(Xt)) ** 2)) for gp in (trained, plain)]
    assert errors[0] < 0.5 * errors[1]
