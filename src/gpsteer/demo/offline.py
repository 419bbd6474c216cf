"""Offline demo of the GP engine: reconstruct a 2-D field from ~150 noisy samples.

Run ``python -m gpsteer.demo --offline --out DIR``. It needs no beamline, no
services and no network: it draws noisy measurements of a synthetic field, trains
a Matérn-5/2 GP on them, prints a short summary (hyperparameters in user units,
RMSE against the true field at held-out points, training time) and writes
``DIR/gp_demo.png`` with four panels: truth, posterior mean, posterior standard
deviation and one posterior sample. (Without ``--offline`` the demo runs the
autonomous beamline session of :mod:`gpsteer.demo.autonomous_map`.)
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["BOUNDS", "DemoResult", "main", "run_demo", "true_field"]

#: The sample stage's travel in mm: (x, y).
BOUNDS = np.array([[-2.0, 2.0], [0.0, 3.0]])
NOISE_SD = 0.05  # measurement noise, in the field's units


def true_field(X: np.ndarray) -> np.ndarray:
    """The hidden sample: two domains on a tilted background, with a ripple (``(n, 2)`` mm)."""
    x, y = X[:, 0], X[:, 1]
    blob1 = np.exp(-((x + 0.8) ** 2 + (y - 1.0) ** 2) / 0.3)
    blob2 = 0.7 * np.exp(-((x - 1.0) ** 2 / 0.5 + (y - 2.2) ** 2 / 0.15))
    ripple = 0.15 * np.sin(3.0 * x) * np.cos(2.5 * y)
    return 1.0 + 0.1 * y + blob1 + blob2 + ripple


@dataclass(frozen=True)
class DemoResult:
    """What the demo measured, for the summary and for tests."""

    n_train: int
    rmse: float
    field_std: float
    fit_seconds: float
    #: as the engine reports them (kernel and noise in units of ``y_scale``)
    hyperparameters: dict[str, list[float]]
    y_scale: float
    figure: Path

    def summary(self) -> str:
        """A few lines for the terminal, hyperparameters converted to user units."""
        h = self.hyperparameters
        ls_mm = np.asarray(h["kernel.base.lengthscale"]) * (BOUNDS[:, 1] - BOUNDS[:, 0])
        amplitude = np.sqrt(h["kernel.outputscale"][0]) * self.y_scale
        noise = np.sqrt(h["noise.variance"][0]) * self.y_scale
        return "\n".join(
            [
                f"GP engine demo: {self.n_train} noisy samples of a 2-D field",
                f"  length scales    {', '.join(f'{v:.3f}' for v in ls_mm)} mm (x, y)",
                f"  amplitude (sd)   {amplitude:.3f}",
                f"  noise sd         {noise:.4f}  (true {NOISE_SD})",
                f"  prior mean       {h['mean.constant'][0]:.3f}",
                f"  held-out RMSE    {self.rmse:.4f}  ({self.rmse / self.field_std:.1%} of the "
                "field's std, 500 random points)",
                f"  training time    {self.fit_seconds:.2f} s",
                f"  figure           {self.figure}",
            ]
        )


def _grid(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    gx = np.linspace(*BOUNDS[0], n)
    gy = np.linspace(*BOUNDS[1], n)
    xx, yy = np.meshgrid(gx, gy)
    return xx, yy, np.column_stack([xx.ravel(), yy.ravel()])


def run_demo(
    out: Path, *, n_train: int = 150, grid: int = 60, n_starts: int = 4, seed: int = 0
) -> DemoResult:
    """Fit, evaluate and plot; returns the numbers the summary prints."""
    from gpsteer.gp import GaussianProcess

    rng = np.random.default_rng(seed)
    X = BOUNDS[:, 0] + rng.uniform(size=(n_train, 2)) * (BOUNDS[:, 1] - BOUNDS[:, 0])
    y = true_field(X) + rng.normal(0.0, NOISE_SD, size=n_train)

    gp = GaussianProcess("matern52", input_bounds=BOUNDS)
    gp.set_data(X, y)
    t0 = time.perf_counter()
    gp.fit(n_starts=n_starts, seed=seed)
    fit_seconds = time.perf_counter() - t0

    X_test = BOUNDS[:, 0] + rng.uniform(size=(500, 2)) * (BOUNDS[:, 1] - BOUNDS[:, 0])
    truth_test = true_field(X_test)
    rmse = float(np.sqrt(np.mean((gp.predict(X_test).mean - truth_test) ** 2)))

    out.mkdir(parents=True, exist_ok=True)
    figure = out / "gp_demo.png"
    _plot(gp, X, figure, grid=grid, seed=seed)
    return DemoResult(
        n_train=n_train,
        rmse=rmse,
        field_std=float(np.std(truth_test)),
        fit_seconds=fit_seconds,
        hyperparameters=gp.hyperparameters(),
        y_scale=gp.y_scale,
        figure=figure,
    )


def _plot(gp, X: np.ndarray, path: Path, *, grid: int, seed: int) -> None:
    # Figure + Agg canvas directly: no pyplot, so no global backend state is touched.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    xx, yy, G = _grid(grid)
    post = gp.predict(G)
    truth = true_field(G).reshape(xx.shape)
    mean = post.mean.reshape(xx.shape)
    std = np.sqrt(post.variance).reshape(xx.shape)
    # A joint draw needs a Cholesky factor of the grid's covariance: use a coarser grid.
    sx, sy, S = _grid(min(grid, 35))
    draw = gp.sample(S, 1, seed=seed)[0].reshape(sx.shape)

    fig = Figure(figsize=(11, 7.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 2, sharex=True, sharey=True)
    vmin, vmax = truth.min(), truth.max()
    panels = [
        (axes[0, 0], xx, yy, truth, "True field", "viridis", (vmin, vmax), "signal (a.u.)"),
        (axes[0, 1], xx, yy, mean, "Posterior mean", "viridis", (vmin, vmax), "signal (a.u.)"),
        (axes[1, 0], xx, yy, std, "Posterior standard deviation", "magma", None, "std (a.u.)"),
        (
            axes[1, 1],
            sx,
            sy,
            draw,
            "One posterior sample",
            "viridis",
            (vmin, vmax),
            "signal (a.u.)",
        ),
    ]
    for ax, gx, gy, z, title, cmap, limits, label in panels:
        vlim = {} if limits is None else {"vmin": limits[0], "vmax": limits[1]}
        mesh = ax.pcolormesh(gx, gy, z, cmap=cmap, shading="auto", **vlim)
        fig.colorbar(mesh, ax=ax, label=label)
        ax.set_title(title)
        ax.set_aspect("equal")
    for ax in (axes[0, 0], axes[1, 0]):
        ax.plot(X[:, 0], X[:, 1], "o", ms=2.5, mfc="white", mec="black", mew=0.4)
    for ax in axes[1, :]:
        ax.set_xlabel("x (mm)")
    for ax in axes[:, 0]:
        ax.set_ylabel("y (mm)")
    fig.suptitle(f"GP reconstruction from {len(X)} noisy measurements (white dots, left)")
    fig.savefig(path, dpi=110)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: ``python -m gpsteer.demo --offline --out DIR``."""
    parser = argparse.ArgumentParser(
        prog="python -m gpsteer.demo --offline", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", type=Path, default=Path("demo-output"), help="output folder")
    parser.add_argument("--n", type=int, default=150, help="number of measurements (>= 5)")
    parser.add_argument("--grid", type=int, default=60, help="plot grid points per axis")
    parser.add_argument("--starts", type=int, default=4, help="optimizer starts for training")
    parser.add_argument("--seed", type=int, default=0, help="seed of data and training")
    args = parser.parse_args(None if argv is None else [str(a) for a in argv])
    if args.n < 5:
        parser.error(f"--n must be at least 5; got {args.n}")
    if args.grid < 2:
        parser.error(f"--grid must be at least 2; got {args.grid}")

    result = run_demo(
        args.out, n_train=args.n, grid=args.grid, n_starts=args.starts, seed=args.seed
    )
    print(result.summary())
    return 0
