"""Grading a map against the hidden sample, and the demo's report figure (gpsteer.demo.report).

Why: the demo's summary claims an error and a comparison with a raster; these check
that the numbers mean what the summary says, on agents whose error is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gpsteer.demo.report import MapQuality, draw_report, evaluate_map, raster_nrmse
from gpsteer.sim_devices.samples import make_sample

BOUNDS = [(-5.0, 5.0), (-5.0, 5.0)]


@dataclass
class _Posterior:
    mean: np.ndarray
    variance: np.ndarray


class OracleAgent:
    """Predicts ``truth + offset`` with a fixed variance: its NRMSE is known."""

    def __init__(self, sample, field: str, n: int, offset: float = 0.0) -> None:
        self.sample, self.field, self.offset = sample, field, offset
        self.X = np.random.default_rng(0).uniform(-5, 5, size=(n, 2))
        self.n = n

    def predict(self, Xq: np.ndarray) -> _Posterior:
        truth = np.asarray(self.sample.ground_truth(Xq[:, 0], Xq[:, 1])[self.field])
        return _Posterior(truth + self.offset, np.full(len(Xq), 1e-4))


@pytest.fixture(scope="module")
def sample():
    return make_sample("ir", 0)


def test_a_perfect_map_scores_zero_and_an_offset_scores_offset_over_range(sample) -> None:
    quality = evaluate_map(OracleAgent(sample, "band_ratio", 100), sample, "band_ratio", BOUNDS)
    assert quality.nrmse == pytest.approx(0.0, abs=1e-12)
    assert (quality.n_points, quality.grid, quality.raster_side) == (100, 50, 10)
    assert quality.raster_fraction == pytest.approx(0.04)
    offset = OracleAgent(sample, "band_ratio", 100, offset=0.05)
    grid = np.meshgrid(np.linspace(-5, 5, 50), np.linspace(-5, 5, 50))
    expected = 0.05 / np.ptp(sample.ground_truth(*grid)["band_ratio"])
    assert evaluate_map(offset, sample, "band_ratio", BOUNDS).nrmse == pytest.approx(expected)


def test_a_denser_raster_has_a_smaller_error_and_the_full_grid_none(sample) -> None:
    errors = [raster_nrmse(sample, "band_ratio", BOUNDS, side) for side in (5, 10, 20)]
    assert errors[0] > errors[1] > errors[2] > 0
    assert raster_nrmse(sample, "band_ratio", BOUNDS, 50, grid=50) == pytest.approx(0, abs=1e-12)
    assert np.isnan(raster_nrmse(sample, "band_ratio", BOUNDS, 1))


def test_the_report_figure_is_written(sample, tmp_path: Path) -> None:
    agent = OracleAgent(sample, "band_ratio", 30)
    quality = MapQuality(n_points=30, grid=50, nrmse=0.1, raster_side=5, raster_nrmse=0.2)
    path = tmp_path / "report.png"
    figure = draw_report(
        agent,
        sample,
        field="band_ratio",
        label="band ratio",
        bounds=BOUNDS,
        quality=quality,
        title="test",
        n_initial=8,
        path=path,
        grid=40,
    )
    assert len(figure.axes) == 8  # four panels and their colour bars
    titles = [ax.get_title() for ax in figure.axes]
    assert any("NRMSE 10.0%" in t and "5x5 raster" in t and "20.0%" in t for t in titles)
    with Image.open(path) as img:
        assert img.format == "PNG" and img.size[0] > 800
