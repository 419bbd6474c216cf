"""Hidden samples and frame generators: determinism, structure, noise scaling."""

from __future__ import annotations

import numpy as np
import pytest

from gpsteer.devices import instruments
from gpsteer.errors import InputError, UnknownNameError
from gpsteer.sim_devices import frames
from gpsteer.sim_devices.samples import (
    ArpesSample,
    Domain,
    IrSample,
    SaxsSample,
    make_sample,
)

KINDS = ["saxs", "arpes", "ir"]


@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_same_sample_and_frames(kind):
    a, b = make_sample(kind, 7), make_sample(kind, 7)
    assert a == b
    xs, ys = a.domain.grid(9)
    ta, tb = a.ground_truth(xs, ys), b.ground_truth(xs, ys)
    for key in ta:
        np.testing.assert_array_equal(ta[key], tb[key])
    fa = a.frame(0.5, -0.5, 0.1, np.random.default_rng(1))
    fb = b.frame(0.5, -0.5, 0.1, np.random.default_rng(1))
    np.testing.assert_array_equal(fa, fb)


@pytest.mark.parametrize("kind", KINDS)
def test_different_seeds_give_different_samples(kind):
    xs, ys = Domain().grid(9)
    a = make_sample(kind, 1).ground_truth(xs, ys)
    b = make_sample(kind, 2).ground_truth(xs, ys)
    assert any(not np.allclose(a[key], b[key]) for key in a)


@pytest.mark.parametrize("kind", KINDS)
def test_ground_truth_scalar_and_array_inputs(kind):
    sample = make_sample(kind, 0)
    scalar = sample.ground_truth(1.0, 2.0)
    assert all(isinstance(value, float) for value in scalar.values())
    array = sample.ground_truth(np.array([1.0, -1.0]), np.array([2.0, 0.0]))
    assert all(value.shape == (2,) for value in array.values())
    for key, value in scalar.items():
        assert array[key][0] == pytest.approx(value)


def test_unknown_kind_lists_the_known_ones():
    with pytest.raises(UnknownNameError, match="saxs"):
        make_sample("xps", 0)


def test_domain_rejects_empty_ranges():
    with pytest.raises(InputError):
        Domain(x=(1.0, 1.0))


def _crosses_sharply(field: np.ndarray) -> bool:
    """Some neighbouring points of a 0.1 mm raster differ by nearly the full 0 -> 1 step."""
    jumps = max(np.abs(np.diff(field, axis=0)).max(), np.abs(np.diff(field, axis=1)).max())
    return bool(jumps > 0.9)


def test_saxs_structure_gradient_boundary_features():
    sample = SaxsSample.from_seed(0)
    xs, ys = sample.domain.grid(101)
    truth = sample.ground_truth(xs, ys)
    np.testing.assert_allclose(truth["q0"], 2 * np.pi / truth["d_spacing"])
    np.testing.assert_allclose(
        truth["peak_width"], 2 * np.pi * instruments.SCHERRER_K / truth["grain_size"]
    )
    region = truth["region"]
    assert 0.2 < region.mean() < 0.8, "both domains are present"
    assert _crosses_sharply(region)
    assert truth["anisotropy"][region > 0.99].min() > truth["anisotropy"][region < 0.01].max()
    assert np.all((truth["orientation"] >= -np.pi / 2) & (truth["orientation"] < np.pi / 2))
    # Features are small: d is lower at the centre than 1.5 mm away.
    for feature in sample.features:
        assert feature.radius < 0.5
        centre = sample.ground_truth(feature.x, feature.y)
        away = sample.ground_truth(feature.x + 1.5, feature.y)
        if abs(centre["region"] - away["region"]) < 0.01:
            assert centre["intensity"] > 1.5 * away["intensity"]


def test_arpes_flake_and_bubbles():
    sample = ArpesSample.from_seed(0)
    xs, ys = sample.domain.grid(101)
    truth = sample.ground_truth(xs, ys)
    on = truth["on_flake"]
    assert 0.1 < on.mean() < 0.6
    assert _crosses_sharply(on)
    assert truth["band_energy"][on > 0.99].max() < truth["band_energy"][on < 0.01].min()
    assert truth["linewidth"][on > 0.99].mean() < truth["linewidth"][on < 0.01].mean()
    for bubble in sample.features:
        assert sample.ground_truth(bubble.x, bubble.y)["on_flake"] > 0.99


def test_arpes_fermi_intensity_is_the_mean_expected_rate_in_the_window():
    sample = ArpesSample.from_seed(0)
    truth = sample.ground_truth(0.3, -0.2)
    params = {k: truth[k] for k in ("band_energy", "linewidth", "dispersion")}
    params.update(intensity=truth["intensity"], background=truth["background"])
    rate = frames.arpes_expected_rate(params, sample.axes)
    lo, hi = instruments.ARPES_FERMI_WINDOW
    rows = (sample.axes.energy() >= lo) & (sample.axes.energy() <= hi)
    assert truth["fermi_intensity"] == pytest.approx(rate[rows].mean(), rel=1e-12)


def test_ir_fractions_and_band_areas():
    sample = IrSample.from_seed(0)
    xs, ys = sample.domain.grid(61)
    truth = sample.ground_truth(xs, ys)
    total = truth["fraction_a"] + truth["fraction_b"] + truth["fraction_c"]
    np.testing.assert_allclose(total, 1.0)
    assert truth["fraction_c"].max() <= 0.9 + 1e-12
    assert np.all(np.isfinite(truth["band_ratio"]))
    assert np.all((truth["band_ratio"] >= 0) & (truth["band_ratio"] <= 1))
    # The carbonyl band appears only at the inclusions.
    for feature in sample.features:
        assert sample.ground_truth(feature.x, feature.y)["band_1730"] > 5.0
    assert np.median(truth["band_1730"]) < 0.1


@pytest.mark.parametrize(
    ("kind", "shape", "dtype"),
    [("saxs", (64, 64), np.int32), ("arpes", (64, 64), np.int32), ("ir", (256,), np.float64)],
)
def test_frames_are_small_and_typed(kind, shape, dtype):
    frame = make_sample(kind, 0).frame(0.0, 0.0, 0.1, np.random.default_rng(0))
    assert frame.shape == shape
    assert frame.dtype == dtype


@pytest.mark.parametrize("kind", KINDS)
def test_frames_reject_nonpositive_exposure(kind):
    with pytest.raises(InputError, match="exposure"):
        make_sample(kind, 0).frame(0.0, 0.0, 0.0, np.random.default_rng(0))


def test_frame_takes_one_position():
    with pytest.raises(InputError, match="scalar"):
        make_sample("saxs", 0).frame(np.zeros(2), np.zeros(2), 0.1, np.random.default_rng(0))


def _relative_noise(kind: str, exposure_s: float) -> float:
    """Frame-to-frame scatter relative to the mean frame, 20 frames at one point."""
    sample = make_sample(kind, 0)
    rng = np.random.default_rng(3)
    stack = np.array([sample.frame(0.0, 0.0, exposure_s, rng) for _ in range(20)], float)
    return float(stack.std(axis=0).mean() / np.abs(stack.mean(axis=0)).mean())


@pytest.mark.parametrize("kind", KINDS)
def test_longer_exposure_gives_less_noise(kind):
    short, long = _relative_noise(kind, 0.05), _relative_noise(kind, 2.0)
    # Poisson (and the IR detector) noise falls as 1/sqrt(t): 40x longer -> ~6x less.
    assert 4.0 < short / long < 9.0


def test_saxs_ring_sits_at_q0_and_beamstop_is_dark():
    sample = SaxsSample.from_seed(0)
    truth = sample.ground_truth(0.0, 0.0)
    rate = frames.saxs_expected_rate(truth, sample.geometry)
    q, _, r = instruments.saxs_q_chi(sample.geometry)
    assert np.all(rate[r < sample.geometry.beamstop_radius_px] == 0)
    ring = rate - truth["porod"] / q**4 - truth["background"]
    ring[r < 8] = 0
    assert q.ravel()[np.argmax(ring)] == pytest.approx(truth["q0"], abs=0.03)
