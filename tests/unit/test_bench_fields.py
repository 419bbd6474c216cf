"""The benchmark fields and metrics: shapes, determinism, and the metric formulas.

benchmarks/ is not an installed package, so its module is loaded from its path.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm

from gpsteer.errors import InputError, ShapeError, UnknownNameError


def _load_fields():
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "fields.py"
    spec = importlib.util.spec_from_file_location("_bench_fields", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


fields = _load_fields()
REQUIRED = {"smooth", "sharp_boundary", "hot_spots", "periodic_lattice", "varying_lengthscale"}


def test_registry_has_the_required_fields_with_positive_noise():
    assert REQUIRED <= set(fields.FIELDS)
    for name, f in fields.FIELDS.items():
        assert f.name == name
        assert f.noise_std > 0


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_field_shape_finiteness_and_variation(name):
    f = fields.FIELDS[name]
    grid = fields.dense_grid(60)
    values = f(grid)
    assert values.shape == (3600,)
    assert np.all(np.isfinite(values))
    # Each field has structure well above its noise level.
    assert values.max() - values.min() > 10 * f.noise_std
    # Pure function of position: same input, same output.
    np.testing.assert_array_equal(values, f(grid))


def test_sample_shapes_and_noise_level():
    f = fields.FIELDS["smooth"]
    X, y = f.sample(4000, np.random.default_rng(1))
    assert X.shape == (4000, 2) and y.shape == (4000,)
    assert X.min() >= 0.0 and X.max() <= 1.0
    residual_std = np.std(y - f(X))
    assert residual_std == pytest.approx(f.noise_std, rel=0.1)


def test_sharp_boundary_is_two_phases():
    f = fields.FIELDS["sharp_boundary"]
    values = f(fields.dense_grid(100))
    # Most points sit on a plateau, few in the thin transition.
    low = values < 0.35
    high = values > 0.75
    assert low.mean() > 0.3 and high.mean() > 0.3
    assert (low | high).mean() > 0.9


def test_field_rejects_bad_shape():
    with pytest.raises(ShapeError):
        fields.FIELDS["smooth"](np.zeros((5, 3)))


def test_unknown_field_lists_known_names():
    with pytest.raises(UnknownNameError, match="smooth"):
        fields.get_field("nope")


def test_dense_grid_layout():
    g = fields.dense_grid(5)
    assert g.shape == (25, 2)
    assert g.min() == 0.0 and g.max() == 1.0
    # Row-major: x varies fastest, so reshape(n, n) is an image with x along columns.
    np.testing.assert_allclose(g[:5, 0], np.linspace(0, 1, 5))
    np.testing.assert_allclose(g[:5, 1], 0.0)
    with pytest.raises(InputError):
        fields.dense_grid(1)


def test_nrmse_of_truth_is_zero_and_scales_with_range():
    truth = fields.FIELDS["hot_spots"](fields.dense_grid(30))
    assert fields.nrmse(truth, truth) == 0.0
    offset = truth + 0.1
    span = truth.max() - truth.min()
    assert fields.nrmse(truth, offset) == pytest.approx(0.1 / span)
    with pytest.raises(ShapeError):
        fields.nrmse(truth, truth[:-1])
    with pytest.raises(InputError):
        fields.nrmse(np.ones(4), np.zeros(4))


def test_nlpd_matches_scipy_logpdf():
    rng = np.random.default_rng(3)
    y = rng.normal(size=50)
    mean = rng.normal(size=50)
    var = rng.uniform(0.01, 2.0, size=50)
    expected = -np.mean(norm.logpdf(y, loc=mean, scale=np.sqrt(var)))
    assert fields.nlpd(y, mean, var) == pytest.approx(expected, rel=1e-12)


def test_nlpd_rejects_nonpositive_variance_and_shape_mismatch():
    with pytest.raises(InputError):
        fields.nlpd(np.zeros(3), np.zeros(3), np.array([1.0, 0.0, 1.0]))
    with pytest.raises(InputError):
        fields.nlpd(np.zeros(3), np.zeros(3), np.array([1.0, np.nan, 1.0]))
    with pytest.raises(ShapeError):
        fields.nlpd(np.zeros(3), np.zeros(2), np.ones(3))
