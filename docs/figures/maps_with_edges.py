"""Draw the figures of docs/concepts/maps_with_edges.md (run from the repository root).

``python docs/figures/maps_with_edges.py`` writes ``docs/_static/edges_band.png`` and
``docs/_static/edges_field.png``: a sample with a curved grain boundary (two grains with
different gradients), the error of a raster and of the default agent's map, the
structure field the agent read from its estimate, and where its points went.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy.interpolate import griddata

from gpsteer import Agent
from gpsteer.gp.structure import field_kernels

OUT = Path(__file__).resolve().parents[1] / "_static"
NOISE = 0.005
N = 400


def sample(X: np.ndarray) -> np.ndarray:
    """Two grains, each with its own gradient, split by a curved sharp boundary."""
    edge = 0.5 + 0.15 * np.sin(2 * np.pi * X[:, 0] + 0.5) + 0.1 * (X[:, 0] - 0.5)
    grain = 0.5 * (1 + np.tanh((X[:, 1] - edge) / 0.004))
    return 0.2 + 0.6 * grain + 0.15 * X[:, 0] * (1 - grain) + 0.1 * X[:, 1] * grain


def main() -> int:
    rng = np.random.default_rng(0)
    t = (np.arange(200) + 0.5) / 200
    grid = np.stack(np.meshgrid(t, t), -1).reshape(-1, 2)
    truth = sample(grid)

    agent = Agent([(0, 1), (0, 1)], seed=0)
    reasons, field_at_150 = [], None
    while agent.n < N:
        s = agent.ask(8 if agent.n == 0 else 1)
        reasons += [t_["reason"] for t_ in s.terms] if s.terms else ["initial"] * len(s.points)
        y = sample(s.points) + NOISE * rng.standard_normal(len(s.points))
        agent.tell(s.points, y, noise_variance=np.full(len(y), NOISE**2))
        if field_at_150 is None and agent.n >= 150:
            (kernel,) = field_kernels(agent.gp.kernel)
            with torch.no_grad():
                field_at_150 = kernel.edge_strength(torch.as_tensor(grid)).numpy()
            points_at_150 = agent.X.copy()

    side = int(np.sqrt(N))
    r = np.linspace(0, 1, side)
    raster = np.stack(np.meshgrid(r, r), -1).reshape(-1, 2)
    raster_y = sample(raster) + NOISE * rng.standard_normal(len(raster))
    raster_map = griddata(raster, raster_y, grid, method="linear")
    agent_map = agent.predict(grid).mean
    span = truth.max() - truth.min()

    def nrmse(m: np.ndarray) -> float:
        return float(np.sqrt(np.mean((m - truth) ** 2)) / span)

    image = dict(origin="lower", extent=(0, 1, 0, 1))
    fig, ax = plt.subplots(1, 3, figsize=(13, 4.3), constrained_layout=True)
    ax[0].imshow(truth.reshape(200, 200), cmap="viridis", **image)
    ax[0].set_title("the sample")
    err = np.abs(raster_map - truth).reshape(200, 200) / span
    im = ax[1].imshow(err, cmap="magma", vmin=0, vmax=0.5, **image)
    ax[1].set_title(f"{side} x {side} raster: |error| (NRMSE {nrmse(raster_map):.3f})")
    err = np.abs(agent_map - truth).reshape(200, 200) / span
    ax[2].imshow(err, cmap="magma", vmin=0, vmax=0.5, **image)
    ax[2].set_title(f"gpsteer, {N} points: |error| (NRMSE {nrmse(agent_map):.3f})")
    fig.colorbar(im, ax=ax[1:], shrink=0.8, label="|error| / range")
    fig.savefig(OUT / "edges_band.png", dpi=70)

    fig, ax = plt.subplots(1, 2, figsize=(10, 4.6), constrained_layout=True)
    im = ax[0].imshow(field_at_150.reshape(200, 200), cmap="cividis", **image)
    ax[0].plot(points_at_150[:, 0], points_at_150[:, 1], "w.", ms=2)
    ax[0].set_title("edge strength after 150 points")
    fig.colorbar(im, ax=ax[0], shrink=0.8, label="base length / length across")
    reasons = np.array(reasons[: agent.n])
    order = np.arange(agent.n)
    for reason, marker in (("uncertainty", "o"), ("coverage", "x"), ("initial", "s")):
        sel = reasons == reason
        ax[1].scatter(
            *agent.X[sel].T,
            c=order[sel],
            cmap="plasma",
            s=10,
            marker=marker,
            vmin=0,
            vmax=agent.n,
            label=reason,
        )
    ax[1].set(xlim=(0, 1), ylim=(0, 1), aspect="equal")
    ax[1].legend(loc="lower left", fontsize=8)
    ax[1].set_title(f"{agent.n} points, coloured by order of choice")
    fig.savefig(OUT / "edges_field.png", dpi=70)
    counts = {k: int((reasons == k).sum()) for k in ("initial", "coverage", "uncertainty")}
    print(f"raster NRMSE {nrmse(raster_map):.4f}, gpsteer {nrmse(agent_map):.4f}; {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
