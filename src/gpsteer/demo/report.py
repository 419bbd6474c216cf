"""How good an autonomous map is, and the report figure of the demo.

The simulated end stations hide a sample whose ground truth Python can rebuild,
so a map can be graded: its error against the truth on a dense grid, next to
the error a raster scan with the same number of points would have had.
Errors are NRMSE: root-mean-square error divided by the truth's range (max -
min) on the grid, the convention of ``benchmarks/`` (a range, not a standard
deviation, so a mostly flat map is not flattered).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["MapQuality", "draw_report", "evaluate_map", "raster_nrmse", "truth_on_grid"]


def _axes(bounds: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.linspace(*bounds[0], n), np.linspace(*bounds[1], n)


def truth_on_grid(
    sample: Any, field: str, bounds: Sequence[tuple[float, float]], n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The hidden sample's ``field`` on an ``n x n`` grid: ``(gx, gy, values (n, n))``.

    Rows follow y, columns x (``values[i, j]`` is at ``(gx[j], gy[i])``).
    """
    gx, gy = _axes(np.asarray(bounds, dtype=float), n)
    xx, yy = np.meshgrid(gx, gy)
    values = np.asarray(sample.ground_truth(xx, yy)[field], dtype=float)
    return gx, gy, values.reshape(n, n)


def raster_nrmse(
    sample: Any, field: str, bounds: Sequence[tuple[float, float]], side: int, grid: int = 50
) -> float:
    """NRMSE of a ``side x side`` raster of the *noise-free* truth, linearly interpolated.

    The fair yardstick for an autonomous map of ``side**2`` points; noise-free
    and on a perfect grid, it is the best such a raster can do.
    """
    from scipy.interpolate import RegularGridInterpolator

    if side < 2:
        return math.nan
    rx, ry, raster = truth_on_grid(sample, field, bounds, side)
    gx, gy, truth = truth_on_grid(sample, field, bounds, grid)
    interpolate = RegularGridInterpolator((ry, rx), raster, method="linear")
    yy, xx = np.meshgrid(gy, gx, indexing="ij")
    estimate = interpolate(np.column_stack([yy.ravel(), xx.ravel()])).reshape(truth.shape)
    return float(np.sqrt(np.mean((estimate - truth) ** 2)) / np.ptp(truth))


@dataclass(frozen=True)
class MapQuality:
    """The error of a map against the hidden sample, and a raster's for comparison.

    Attributes
    ----------
    n_points : int
        Points the map was made from.
    grid : int
        Evaluation grid points per axis (the raster the map is compared with).
    nrmse : float
        The map's posterior mean against the truth on the grid.
    raster_side : int
        ``floor(sqrt(n_points))``: the equal-points raster is ``side x side``.
    raster_nrmse : float
        That raster's NRMSE (noise-free truth, linear interpolation).
    """

    n_points: int
    grid: int
    nrmse: float
    raster_side: int
    raster_nrmse: float

    @property
    def raster_fraction(self) -> float:
        """``n_points`` as a fraction of the ``grid x grid`` raster."""
        return self.n_points / self.grid**2


def evaluate_map(
    agent: Any,
    sample: Any,
    field: str,
    bounds: Sequence[tuple[float, float]],
    *,
    grid: int = 50,
) -> MapQuality:
    """Grade ``agent``'s posterior mean against ``sample``'s ``field`` on a square grid."""
    gx, gy, truth = truth_on_grid(sample, field, bounds, grid)
    xx, yy = np.meshgrid(gx, gy)
    mean = np.asarray(agent.predict(np.column_stack([xx.ravel(), yy.ravel()])).mean)
    nrmse = float(np.sqrt(np.mean((mean.reshape(truth.shape) - truth) ** 2)) / np.ptp(truth))
    side = math.isqrt(int(agent.n))
    return MapQuality(
        n_points=int(agent.n),
        grid=grid,
        nrmse=nrmse,
        raster_side=side,
        raster_nrmse=raster_nrmse(sample, field, bounds, side, grid),
    )


def draw_report(
    agent: Any,
    sample: Any,
    *,
    field: str,
    label: str,
    units: str = "",
    bounds: Sequence[tuple[float, float]],
    quality: MapQuality,
    title: str,
    n_initial: int = 0,
    path: str | Path | None = None,
    grid: int = 120,
) -> Any:
    """The report figure: truth, posterior mean, uncertainty, and the points in order.

    Drawn on a backend-independent ``Figure`` (no pyplot); saved to ``path`` if given.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    b = np.asarray(bounds, dtype=float)
    gx, gy, truth = truth_on_grid(sample, field, b, grid)
    xx, yy = np.meshgrid(gx, gy)
    post = agent.predict(np.column_stack([xx.ravel(), yy.ravel()]))
    mean = np.asarray(post.mean).reshape(truth.shape)
    std = np.sqrt(np.maximum(np.asarray(post.variance), 0.0)).reshape(truth.shape)
    X = np.asarray(agent.X, dtype=float)
    extent = (b[0, 0], b[0, 1], b[1, 0], b[1, 1])
    vmin, vmax = float(truth.min()), float(truth.max())

    fig = Figure(figsize=(11.5, 10.0), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 2, sharex=True, sharey=True)

    def image(ax: Any, values: np.ndarray, cmap: str, heading: str, cbar: str, **lim: Any) -> Any:
        shown = ax.imshow(values, origin="lower", extent=extent, cmap=cmap, **lim)
        fig.colorbar(shown, ax=ax, label=cbar, shrink=0.92)
        ax.set_title(heading, fontsize=11)
        return shown

    image(axes[0, 0], truth, "viridis", "Hidden sample (ground truth)", label, vmin=vmin, vmax=vmax)
    side = quality.raster_side
    image(
        axes[0, 1],
        mean,
        "viridis",
        f"Posterior mean from {len(X)} points: NRMSE {quality.nrmse:.1%}\n"
        f"(a {side}x{side} raster, noise-free, interpolated: {quality.raster_nrmse:.1%})",
        label,
        vmin=vmin,
        vmax=vmax,
    )
    std_label = f"posterior std ({units})" if units else "posterior std"
    image(axes[1, 0], std, "magma", "Uncertainty: posterior standard deviation", std_label)
    for ax in (axes[0, 1], axes[1, 0]):
        ax.plot(X[:, 0], X[:, 1], "o", ms=3.0, mfc="white", mec="black", mew=0.4)

    ax = axes[1, 1]
    ax.imshow(truth, origin="lower", extent=extent, cmap="Greys", alpha=0.3)
    ax.plot(X[:, 0], X[:, 1], "-", color="0.35", lw=0.5, alpha=0.45, zorder=1)
    order = np.arange(1, len(X) + 1)
    dots = ax.scatter(
        X[:, 0], X[:, 1], c=order, cmap="plasma", s=22, edgecolors="black", linewidths=0.3
    )
    if n_initial:
        ax.scatter(
            X[:n_initial, 0],
            X[:n_initial, 1],
            s=70,
            marker="s",
            facecolors="none",
            edgecolors="black",
            linewidths=1.0,
            label=f"initial design ({n_initial})",
        )
        ax.legend(loc="upper right", fontsize=8, framealpha=0.85)
    fig.colorbar(dots, ax=ax, label="measurement number", shrink=0.92)
    ax.set_title("Measured points in order (motor path in grey)", fontsize=11)

    for a in axes.ravel():
        a.set_xlim(extent[0], extent[1])
        a.set_ylim(extent[2], extent[3])
        a.set_aspect("equal")
    for a in axes[1, :]:
        a.set_xlabel("sample x (mm)")
    for a in axes[:, 0]:
        a.set_ylabel("sample y (mm)")
    fig.suptitle(title, fontsize=13)
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig
