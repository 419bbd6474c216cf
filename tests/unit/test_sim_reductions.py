"""Reductions recover the hidden samples' ground truth, with calibrated variances."""

from __future__ import annotations

import numpy as np
import pytest

from gpsteer.devices import instruments, reductions
from gpsteer.errors import InputError, ShapeError
from gpsteer.sim_devices.samples import ArpesSample, IrSample, SaxsSample


def _positions(sample) -> list[tuple[float, float]]:
    """Points in both regions, near the edges, and on every small feature."""
    fixed = [(0.0, 0.0), (3.0, 3.0), (-3.0, -3.0), (2.0, -2.0), (-4.0, 2.0), (4.0, -4.0)]
    return fixed + [(f.x, f.y) for f in sample.features]


def _angle_diff(a: float, b: float) -> float:
    """Difference of two orientations modulo pi."""
    return float(abs((a - b + np.pi / 2) % np.pi - np.pi / 2))


def test_fit_peak_recovers_a_synthetic_gaussian():
    x = np.linspace(0, 10, 200)
    truth = 50 * reductions.gaussian(x, 4.2, 0.7) + 3.0
    rng = np.random.default_rng(0)
    y = truth + rng.normal(0, 0.05, x.size)
    fit = reductions.fit_peak(
        x,
        y,
        np.full_like(x, 0.05**2),
        reductions.gaussian,
        np.linspace(1, 9, 30),
        np.geomspace(0.1, 3, 20),
        np.ones((x.size, 1)),
    )
    assert fit.ok
    assert fit.center == pytest.approx(4.2, abs=5 * fit.std(1))
    assert fit.width == pytest.approx(0.7, abs=5 * fit.std(2))
    assert fit.amplitude == pytest.approx(50, abs=5 * fit.std(0))
    assert fit.chi2 / fit.dof == pytest.approx(1.0, abs=0.3)


@pytest.mark.parametrize("seed", [0, 1])
def test_saxs_recovers_ground_truth_on_low_noise_frames(seed):
    sample = SaxsSample.from_seed(seed)
    rng = np.random.default_rng(10)
    for x, y in _positions(sample):
        truth = sample.ground_truth(x, y)
        red = reductions.reduce_saxs(sample.frame(x, y, 20.0, rng), sample.geometry, 20.0)
        where = f"seed {seed} at ({x:.2f}, {y:.2f})"
        assert red.q0 == pytest.approx(truth["q0"], rel=2e-3), where
        assert red.peak_width == pytest.approx(truth["peak_width"], rel=0.02), where
        assert red.grain_size == pytest.approx(truth["grain_size"], rel=0.02), where
        assert red.intensity == pytest.approx(truth["intensity"], rel=0.01), where
        assert red.anisotropy == pytest.approx(truth["anisotropy"], abs=0.01), where
        if truth["anisotropy"] > 0.1:
            assert _angle_diff(red.orientation, truth["orientation"]) < 0.05, where


def test_saxs_variances_match_the_scatter_of_repeated_frames():
    sample = SaxsSample.from_seed(0)
    rng = np.random.default_rng(11)
    reds = [
        reductions.reduce_saxs(sample.frame(0.0, 0.0, 0.1, rng), sample.geometry, 0.1)
        for _ in range(40)
    ]
    for name in ("q0", "intensity", "peak_width", "anisotropy"):
        values = np.array([getattr(r, name) for r in reds])
        predicted = np.sqrt(np.mean([getattr(r, f"{name}_variance") for r in reds]))
        # 40 samples: the empirical std is within ~25 % of the truth; allow a factor 1.5.
        assert 1 / 1.5 < values.std(ddof=1) / predicted < 1.5, name


def test_saxs_noise_falls_with_exposure():
    sample = SaxsSample.from_seed(0)
    rng = np.random.default_rng(12)
    short = reductions.reduce_saxs(sample.frame(1, 1, 0.05, rng), sample.geometry, 0.05)
    long = reductions.reduce_saxs(sample.frame(1, 1, 5.0, rng), sample.geometry, 5.0)
    assert short.q0_variance / long.q0_variance == pytest.approx(100, rel=0.5)


def test_saxs_empty_frame_gives_nan_with_infinite_variance():
    geometry = instruments.SaxsGeometry()
    red = reductions.reduce_saxs(np.zeros(geometry.shape), geometry, 1.0)
    assert np.isnan(red.q0) and np.isinf(red.q0_variance)
    assert set(red.as_fields()) >= {"q0", "q0_variance", "intensity", "intensity_variance"}


def test_saxs_rejects_wrong_shape_and_exposure():
    geometry = instruments.SaxsGeometry()
    with pytest.raises(ShapeError):
        reductions.reduce_saxs(np.zeros((10, 10)), geometry, 1.0)
    with pytest.raises(InputError):
        reductions.reduce_saxs(np.zeros(geometry.shape), geometry, -1.0)
    # a flat array of the right size is accepted (areaDetector ArrayData)
    flat = SaxsSample.from_seed(0).frame(0, 0, 1.0, np.random.default_rng(0)).ravel()
    assert np.isfinite(reductions.reduce_saxs(flat, geometry, 1.0).q0)


def test_arpes_recovers_ground_truth_on_low_noise_frames():
    sample = ArpesSample.from_seed(0)
    axes = sample.axes
    rng = np.random.default_rng(20)
    for x, y in _positions(sample):
        truth = sample.ground_truth(x, y)
        red = reductions.reduce_arpes(
            sample.frame(x, y, 20.0, rng),
            axes.energy(),
            axes.angle(),
            20.0,
            edge_width_ev=axes.edge_width_ev,
        )
        where = f"at ({x:.2f}, {y:.2f})"
        assert red.intensity == pytest.approx(truth["fermi_intensity"], rel=0.01), where
        assert red.band_energy == pytest.approx(truth["band_energy"], abs=0.004), where
        assert red.linewidth == pytest.approx(truth["linewidth"], rel=0.08), where


def test_arpes_variances_match_the_scatter_of_repeated_frames():
    sample = ArpesSample.from_seed(0)
    axes = sample.axes
    rng = np.random.default_rng(21)
    reds = [
        reductions.reduce_arpes(sample.frame(0.0, 0.0, 0.2, rng), axes.energy(), axes.angle(), 0.2)
        for _ in range(40)
    ]
    for name in ("intensity", "band_energy"):
        values = np.array([getattr(r, name) for r in reds])
        predicted = np.sqrt(np.mean([getattr(r, f"{name}_variance") for r in reds]))
        assert 1 / 1.5 < values.std(ddof=1) / predicted < 1.5, name


def test_arpes_rejects_a_window_outside_the_energy_axis():
    axes = instruments.ArpesAxes()
    image = np.ones((axes.n_energy, axes.n_angle))
    with pytest.raises(InputError, match="window"):
        reductions.reduce_arpes(image, axes.energy(), axes.angle(), 1.0, fermi_window=(1.0, 2.0))


def test_ir_recovers_band_areas_and_ratio():
    sample = IrSample.from_seed(0)
    rng = np.random.default_rng(30)
    for x, y in _positions(sample):
        truth = sample.ground_truth(x, y)
        red = reductions.reduce_ir(sample.axes.wavenumber(), sample.frame(x, y, 20.0, rng))
        for band in instruments.IR_BANDS:
            assert red.areas[band.name] == pytest.approx(truth[band.name], abs=0.1), band.name
        # Where both bands are weak (inclusions) the ratio is noisy: allow 4 sigma.
        tolerance = max(0.01, 4 * np.sqrt(red.band_ratio_variance))
        assert red.band_ratio == pytest.approx(truth["band_ratio"], abs=tolerance)
        assert red.band_ratio_variance < 1e-3


def test_ir_noise_variance_and_area_variances_are_calibrated():
    sample = IrSample.from_seed(0)
    rng = np.random.default_rng(31)
    exposure = 0.1
    reds = [
        reductions.reduce_ir(sample.axes.wavenumber(), sample.frame(0.0, 0.0, exposure, rng))
        for _ in range(40)
    ]
    expected_noise = sample.axes.noise_std_1s**2 / exposure
    assert np.mean([r.noise_variance for r in reds]) == pytest.approx(expected_noise, rel=0.1)
    values = np.array([r.areas["band_1650"] for r in reds])
    predicted = np.sqrt(np.mean([r.area_variances["band_1650"] for r in reds]))
    assert 1 / 1.5 < values.std(ddof=1) / predicted < 1.5
    fields = reds[0].as_fields()
    assert {"band_1650", "band_1650_variance", "band_ratio", "band_ratio_variance"} <= set(fields)


def test_ir_rejects_unknown_ratio_band_and_mismatched_axes():
    nu = instruments.IrAxes().wavenumber()
    with pytest.raises(InputError, match="band_9999"):
        reductions.reduce_ir(nu, np.zeros_like(nu), ratio=("band_9999", "band_1050"))
    with pytest.raises(ShapeError):
        reductions.reduce_ir(nu, np.zeros(nu.size - 1))
