"""Acquisition functions against formulas written out here in numpy/scipy, and their gradients.

The references use only the posterior mean and variance (``gp.predict``) and textbook
formulas, so a test compares the torch implementation with an independent computation.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import norm

from gpsteer.acquisition import (
    ACQUISITIONS,
    AcquisitionContext,
    Boundary,
    CallableAcquisition,
    ExpectedImprovement,
    Gradient,
    LowerConfidenceBound,
    MutualInformation,
    PosteriorVariance,
    ProbabilityOfImprovement,
    Target,
    UpperConfidenceBound,
    joint_information,
    make_acquisition,
)
from gpsteer.errors import ConfigurationError, InputError, ShapeError, UnknownNameError
from gpsteer.gp import GaussianProcess

BOUNDS = np.array([[0.0, 2.0], [0.0, 3.0]])


@pytest.fixture(scope="module")
def gp() -> GaussianProcess:
    rng = np.random.default_rng(0)
    X = BOUNDS[:, 0] + rng.uniform(size=(15, 2)) * (BOUNDS[:, 1] - BOUNDS[:, 0])
    y = np.sin(2 * X[:, 0]) + np.cos(X[:, 1]) + 0.05 * rng.standard_normal(15)
    model = GaussianProcess(input_bounds=BOUNDS.tolist())
    model.set_data(X, y)
    model.set_hyperparameters(
        {
            "kernel.outputscale": 1.2,
            "kernel.base.lengthscale": [0.3, 0.4],
            "mean.constant": 0.1,
            "noise.variance": 0.01,
        }
    )
    return model


@pytest.fixture(scope="module")
def Xq() -> np.ndarray:
    rng = np.random.default_rng(1)
    return BOUNDS[:, 0] + rng.uniform(size=(25, 2)) * (BOUNDS[:, 1] - BOUNDS[:, 0])


def _values(acq, gp: GaussianProcess, X: np.ndarray, context=None) -> np.ndarray:
    with torch.no_grad():
        return acq(gp, torch.as_tensor(X), context).numpy()


def _moments(gp: GaussianProcess, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    post = gp.predict(X)
    return post.mean, np.sqrt(post.variance)


def test_variance_is_posterior_std(gp, Xq):
    _, s = _moments(gp, Xq)
    np.testing.assert_allclose(_values(PosteriorVariance(), gp, Xq), s, rtol=1e-10)


@pytest.mark.parametrize("beta", [0.0, 1.0, 3.0])
def test_ucb_and_lcb(gp, Xq, beta):
    m, s = _moments(gp, Xq)
    np.testing.assert_allclose(_values(UpperConfidenceBound(beta), gp, Xq), m + beta * s)
    np.testing.assert_allclose(_values(LowerConfidenceBound(beta), gp, Xq), beta * s - m)


@pytest.mark.parametrize("maximize", [True, False])
@pytest.mark.parametrize("xi", [0.0, 0.1])
def test_expected_improvement(gp, Xq, maximize, xi):
    m, s = _moments(gp, Xq)
    best = gp.y.max() if maximize else gp.y.min()
    imp = (m - best if maximize else best - m) - xi
    ref = imp * norm.cdf(imp / s) + s * norm.pdf(imp / s)
    got = _values(ExpectedImprovement(maximize=maximize, xi=xi), gp, Xq)
    np.testing.assert_allclose(got, ref, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("maximize", [True, False])
def test_probability_of_improvement(gp, Xq, maximize):
    m, s = _moments(gp, Xq)
    best = 0.5  # explicit incumbent in user units
    ref = norm.cdf((m - best) / s) if maximize else norm.cdf((best - m) / s)
    got = _values(ProbabilityOfImprovement(maximize=maximize, best_f=best), gp, Xq)
    np.testing.assert_allclose(got, ref, rtol=1e-8, atol=1e-12)


def test_target_probability(gp, Xq):
    m, s = _moments(gp, Xq)
    ref = norm.cdf((1.0 - m) / s) - norm.cdf((0.2 - m) / s)
    np.testing.assert_allclose(_values(Target(0.2, 1.0), gp, Xq), ref, rtol=1e-8, atol=1e-12)


def test_target_thresholds_go_through_the_output_transform(gp, Xq):
    # A model of log(y): P(lo <= y <= hi) = P(log lo <= f <= log hi).
    m, s = _moments(gp, Xq)
    ref = norm.cdf((np.log(2.0) - m) / s) - norm.cdf((np.log(1.2) - m) / s)
    context = AcquisitionContext(to_model=np.log)
    got = _values(Target(1.2, 2.0), gp, Xq, context)
    np.testing.assert_allclose(got, ref, rtol=1e-8, atol=1e-12)


def _unit_box_slope(gp, X: np.ndarray) -> np.ndarray:
    """``|grad mean|`` in unit-box coordinates by central differences."""
    width = BOUNDS[:, 1] - BOUNDS[:, 0]
    h = 1e-5
    slope2 = np.zeros(len(X))
    for j in range(2):
        step = np.zeros(2)
        step[j] = h * width[j]
        d = (gp.predict(X + step).mean - gp.predict(X - step).mean) / (2 * h)
        slope2 += d**2
    return np.sqrt(slope2)


def test_gradient_is_slope_of_mean_times_std(gp, Xq):
    _, s = _moments(gp, Xq)
    np.testing.assert_allclose(_values(Gradient(), gp, Xq), _unit_box_slope(gp, Xq) * s, rtol=1e-6)


@pytest.mark.parametrize("weight", [0.0, 1.0, 3.0])
def test_boundary_is_std_times_one_plus_relative_slope(gp, Xq, weight):
    typical = np.sqrt(np.mean(_unit_box_slope(gp, gp.X) ** 2))
    _, s = _moments(gp, Xq)
    ref = s * (1.0 + weight * _unit_box_slope(gp, Xq) / typical)
    np.testing.assert_allclose(_values(Boundary(weight), gp, Xq), ref, rtol=1e-6)


def test_boundary_weight_zero_is_variance_and_bad_weights_are_refused(gp, Xq):
    np.testing.assert_allclose(
        _values(Boundary(0.0), gp, Xq), _values(PosteriorVariance(), gp, Xq), rtol=1e-12
    )
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(InputError, match="boundary weight"):
            Boundary(bad)


def test_mutual_information_per_point(gp, Xq):
    noise = gp.hyperparameters()["noise.variance"][0] * gp.y_scale**2  # user units
    var = gp.predict(Xq).variance
    ref = 0.5 * np.log1p(var / noise)
    np.testing.assert_allclose(_values(MutualInformation(), gp, Xq), ref, rtol=1e-8)


def test_joint_information_is_half_log_det(gp, Xq):
    noise = gp.hyperparameters()["noise.variance"][0] * gp.y_scale**2
    cov = gp.predict(Xq[:6], full_cov=True).covariance
    _, logdet = np.linalg.slogdet(np.eye(6) + cov / noise)
    with torch.no_grad():
        got = float(joint_information(gp, torch.as_tensor(Xq[:6])))
    assert got == pytest.approx(0.5 * logdet, rel=1e-8)
    # Redundancy: a batch holding one point twice is worth less than twice the point.
    with torch.no_grad():
        single = float(joint_information(gp, torch.as_tensor(Xq[:1])))
        double = float(joint_information(gp, torch.as_tensor(np.vstack([Xq[:1], Xq[:1]]))))
    assert single < double < 2 * single


ALL = [
    PosteriorVariance(),
    UpperConfidenceBound(2.0),
    LowerConfidenceBound(2.0),
    ExpectedImprovement(maximize=True),
    ExpectedImprovement(maximize=False),
    ProbabilityOfImprovement(maximize=True),
    Target(0.0, 1.0),
    Gradient(),
    Boundary(2.0),
    MutualInformation(),
    CallableAcquisition(lambda X, post: post.mean * post.variance, name="custom_product"),
]


@pytest.mark.parametrize("acq", ALL, ids=lambda a: a.name + repr(a.options()))
def test_autograd_gradient_matches_finite_differences(gp, Xq, acq):
    score = acq.bind(gp, AcquisitionContext())
    X = torch.as_tensor(Xq[:5]).clone().requires_grad_(True)
    score(X).sum().backward()
    h = 1e-6
    fd = np.zeros((5, 2))
    for j in range(2):
        step = np.zeros(2)
        step[j] = h
        with torch.no_grad():
            up = score(torch.as_tensor(Xq[:5] + step)).numpy()
            down = score(torch.as_tensor(Xq[:5] - step)).numpy()
        fd[:, j] = (up - down) / (2 * h)
    np.testing.assert_allclose(X.grad.numpy(), fd, rtol=1e-4, atol=1e-7)


def test_names_are_lowercase_identifiers_and_configurations_round_trip():
    for name, cls in ACQUISITIONS.items():
        assert name.isidentifier() and name == name.lower()
        if name == "target":
            acq = cls(0.0, 1.0)
        else:
            acq = make_acquisition(name)
        again = make_acquisition(acq.configuration())
        assert type(again) is cls and again.options() == acq.options()


def test_make_acquisition_errors():
    with pytest.raises(UnknownNameError, match="ucb"):
        make_acquisition("expected improvement")
    with pytest.raises(ConfigurationError, match="target"):
        make_acquisition("target")
    with pytest.raises(ConfigurationError, match="callable"):
        make_acquisition({"name": "mine", "callable": True})
    with pytest.raises(InputError):
        make_acquisition(42)
    with pytest.raises(InputError):
        Target(1.0, 1.0)
    with pytest.raises(InputError):
        UpperConfidenceBound(beta=-1)
    with pytest.raises(InputError):
        ExpectedImprovement(maximize="yes")


def test_callable_with_wrong_output_shape_raises(gp, Xq):
    acq = make_acquisition(lambda X, post: post.mean[:1])
    with pytest.raises(ShapeError, match="shape"):
        _values(acq, gp, Xq)
