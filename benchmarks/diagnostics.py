"""Where a map's error sits: the boundary band, small features, the rest.

Why: against a raster, a piecewise-smooth map's error lives in a band along its
edges (grain boundary, flake edge, phase interface). These helpers split a map's
squared error, and its points, into zones of a simulated station's sample, and the
raster's error into interpolation and noise, so a benchmark can say *why* a method
misses a target (``bench_beamline_mapping --diagnose``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.ndimage import distance_transform_edt

from benchmarks.baselines import interpolator
from benchmarks.fields import dense_grid, nrmse
from benchmarks.report import markdown_table
from benchmarks.stations import SimulatedStation

__all__ = [
    "ZONES",
    "Zones",
    "diagnose_method",
    "diagnose_raster",
    "diagnosis_tables",
    "error_shares",
    "step_width",
]

ZONES = ("boundary band", "features", "rest")
BAND_GRID = 400  # fine grid for the distance to the boundary
FEATURE_RADII = 2.5  # a feature's zone: within this many radii (Gaussian sigmas)


def boundary_step(sample: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The sample's 0 -> 1 step across its domain boundary, at positions (mm)."""
    if sample.kind == "saxs":
        return np.asarray(sample.region(x, y))
    if sample.kind == "arpes":
        return np.asarray(sample.flake(x, y))
    truth = sample.ground_truth(x, y)  # IR: phase A's share of the A/B blend
    return np.asarray(truth["fraction_a"] / (truth["fraction_a"] + truth["fraction_b"]))


def step_width(sample: Any) -> float:
    """Width (mm) of the tanh step across the sample's domain boundary."""
    names = {"saxs": "boundary_width", "arpes": "edge_width", "ir": "interface_width"}
    return float(getattr(sample, names[sample.kind]))


@dataclass(frozen=True)
class Zones:
    """Which zone a position is in: near the domain boundary, a small feature, or the rest.

    Why: NRMSE against a raster is decided by where the error sits; the band's
    half-width (``band_mm``) is one raster spacing, the scale below which a raster
    cannot place a boundary, plus optionally a few widths of the step itself.
    """

    station: SimulatedStation
    band_mm: float
    distance: np.ndarray  # (BAND_GRID, BAND_GRID) distance to the 0.5 contour, mm

    @classmethod
    def build(cls, station: SimulatedStation, band_mm: float) -> Zones:
        d = station.domain
        xs, ys = d.grid(BAND_GRID)
        inside = boundary_step(station.sample, xs, ys) > 0.5
        if inside.all() or not inside.any():
            return cls(station, band_mm, np.full(inside.shape, np.inf))
        cell = ((d.y[1] - d.y[0]) / (BAND_GRID - 1), (d.x[1] - d.x[0]) / (BAND_GRID - 1))
        distance = np.maximum(
            distance_transform_edt(inside, sampling=cell),
            distance_transform_edt(~inside, sampling=cell),
        )
        return cls(station, band_mm, distance)

    def boundary_distance(self, points_mm: np.ndarray) -> np.ndarray:
        d, n = self.station.domain, BAND_GRID
        p = np.asarray(points_mm, float).reshape(-1, 2)
        ix = np.rint((p[:, 0] - d.x[0]) / (d.x[1] - d.x[0]) * (n - 1)).clip(0, n - 1)
        iy = np.rint((p[:, 1] - d.y[0]) / (d.y[1] - d.y[0]) * (n - 1)).clip(0, n - 1)
        return self.distance[iy.astype(int), ix.astype(int)]

    def label(self, points_mm: np.ndarray) -> np.ndarray:
        """0: boundary band, 1: feature (outside the band), 2: the rest."""
        p = np.asarray(points_mm, float).reshape(-1, 2)
        in_feature = np.zeros(len(p), bool)
        for f in self.station.sample.features:
            in_feature |= np.hypot(p[:, 0] - f.x, p[:, 1] - f.y) <= FEATURE_RADII * f.radius
        labels = np.where(in_feature, 1, 2)
        labels[self.boundary_distance(p) <= self.band_mm] = 0
        return labels


def error_shares(truth: np.ndarray, prediction: np.ndarray, labels: np.ndarray) -> list[float]:
    """Share of the squared error in each zone (sums to 1)."""
    sq = (np.asarray(prediction, float) - truth) ** 2
    total = float(sq.sum())
    return [float(sq[labels == i].sum()) / total for i in range(len(ZONES))]


def diagnose_method(
    zones: Zones,
    grid_labels: np.ndarray,
    truth: np.ndarray,
    target: float,
    prediction: np.ndarray,
    positions_mm: np.ndarray,
) -> dict[str, Any]:
    """Error shares per zone of one method's map, and the share of its points in the band."""
    at = zones.label(positions_mm)
    return {
        "n": len(positions_mm),
        "nrmse_ratio": nrmse(truth, prediction) / target,
        "error_shares": error_shares(truth, prediction, grid_labels),
        "point_shares": [float(np.mean(at == i)) for i in range(len(ZONES))],
    }


def diagnose_raster(
    station: SimulatedStation,
    side: int,
    grid_unit: np.ndarray,
    truth: np.ndarray,
    noisy: np.ndarray,
    grid_labels: np.ndarray,
    target_fraction: float,
) -> dict[str, Any]:
    """The raster's error split into interpolation (noise-free raster) and noise.

    Also the NRMSE of a noise-free raster with the target's share of the points:
    what uniform placement reaches at that budget even without noise.
    """

    def clean_raster(n_side: int) -> np.ndarray:
        nodes = dense_grid(n_side)
        return interpolator(nodes, station.truth(station.to_mm(nodes)))(grid_unit)

    clean = clean_raster(side)
    small_side = max(2, round(side * math.sqrt(target_fraction)))
    total = float(((noisy - truth) ** 2).sum())
    return {
        "target_side": small_side,
        "target_clean_nrmse": nrmse(truth, clean_raster(small_side)),
        "nrmse": nrmse(truth, noisy),
        "clean_nrmse": nrmse(truth, clean),
        "interpolation_share": float(((clean - truth) ** 2).sum()) / total,
        "noise_share": float(((noisy - clean) ** 2).sum()) / total,
        "clean_error_shares": error_shares(truth, clean, grid_labels),
    }


def _shares(values: list[float]) -> str:
    return " / ".join(f"{100 * v:.0f}" for v in values)


def diagnosis_tables(rows: list[dict[str, Any]], band_widths: float = 0.0) -> str:
    """Markdown: where each method's squared error sits, and the raster's noise share.

    Each row: ``{"kind", "diagnosis": {"band_mm", "area_shares", "raster": ...,
    "methods": {name: diagnose_method(...)}}}``.
    """
    raster_rows, method_rows = [], []
    for row in rows:
        diag = row.get("diagnosis")
        if not diag:
            continue
        r = diag["raster"]
        raster_rows.append(
            [
                row["kind"],
                f"{r['nrmse']:.4f}",
                f"{r['clean_nrmse']:.4f}",
                f"{r['target_clean_nrmse'] / r['nrmse']:.2f}x ({r['target_side']}^2)",
                f"{100 * r['interpolation_share']:.0f} %",
                f"{100 * r['noise_share']:.0f} %",
                _shares(r["clean_error_shares"]),
            ]
        )
        for method, m in diag["methods"].items():
            method_rows.append(
                [
                    row["kind"],
                    method,
                    str(m["n"]),
                    f"{m['nrmse_ratio']:.2f}x",
                    _shares(m["error_shares"]),
                    _shares(m["point_shares"]),
                    _shares(diag["area_shares"]),
                ]
            )
    zones = " / ".join(ZONES)
    md = markdown_table(
        [
            "station",
            "raster NRMSE",
            "noise-free raster NRMSE",
            "noise-free raster at the target budget / raster NRMSE",
            "interpolation share of SSE",
            "noise share of SSE",
            f"noise-free raster SSE % ({zones})",
        ],
        raster_rows,
    )
    md += "\n" + markdown_table(
        [
            "station",
            "method",
            "points",
            "NRMSE / raster",
            f"SSE % ({zones})",
            f"points % ({zones})",
            f"area % ({zones})",
        ],
        method_rows,
    )
    md += (
        f"\nBoundary band: within one raster spacing + {band_widths:g} step widths of the domain "
        f"boundary (0.5 level of the step; half-width "
        + ", ".join(
            f"{r['kind']} {r['diagnosis']['band_mm']:.2f} mm" for r in rows if "diagnosis" in r
        )
        + f"); features: within {FEATURE_RADII} radii of a feature's centre, outside the "
        "band. Each method at its last scored point count.\n"
    )
    return md
