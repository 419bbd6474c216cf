"""Where a field changes fast, and in which direction: a structure-tensor field.

The edge-aligned kernel (:mod:`gpsteer.gp.kernels.edge`) needs, at every point of the
unit box, a symmetric positive semi-definite ``d x d`` matrix that is large across an
edge and small along it. The classic image-processing answer is the *structure
tensor*: the outer product of the gradient, smoothed. Here the gradient is that of a
model's posterior mean (the best estimate of the field so far), evaluated on a regular
grid, smoothed by one grid cell and normalised to a mean trace of one, so that the
kernel's ``sharpening`` hyperparameter alone says how strongly edges count.

A field is a plain tensor on a grid: cheap to evaluate (multilinear interpolation,
differentiable in the query points), to pickle to a Dask worker and to store with an
agent's state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

from gpsteer.errors import ConfigurationError, ShapeError

if TYPE_CHECKING:
    from gpsteer.gp.model import GaussianProcess

__all__ = [
    "MAX_FIELD_DIM",
    "StructureField",
    "StructureSource",
    "default_resolution",
    "field_kernels",
    "refresh_structure",
    "restore_structure",
    "structure_of",
]

#: Grid points per axis by input dimension; beyond 3-D a grid is too large to be worth it.
_RESOLUTION = {1: 512, 2: 96, 3: 24}
MAX_FIELD_DIM = max(_RESOLUTION)


def default_resolution(dim: int) -> int:
    """Grid points per axis for a ``dim``-D field (about 10^4 cells in 2-D)."""
    if dim not in _RESOLUTION:
        raise ConfigurationError(
            f"a structure field is defined for 1 to {MAX_FIELD_DIM} input dimensions; got "
            f"{dim}. Use a stationary kernel (kernel='matern52') for higher dimensions."
        )
    return _RESOLUTION[dim]


class StructureField:
    """A smoothed, normalised structure tensor on a regular grid over the unit box.

    Parameters
    ----------
    tensors
        ``(n, ..., n, d, d)``: one symmetric positive semi-definite matrix per grid node,
        ``d`` grid axes of ``n`` nodes spanning [0, 1] (axis ``i`` of the grid is input
        dimension ``i``).
    """

    def __init__(self, tensors: torch.Tensor) -> None:
        t = torch.as_tensor(tensors, dtype=torch.float64)
        if t.ndim < 3 or t.shape[-1] != t.shape[-2] or t.ndim - 2 != t.shape[-1]:
            raise ShapeError(
                f"tensors must have shape (n, ..., n, d, d) with d grid axes; got {tuple(t.shape)}."
            )
        if len(set(t.shape[:-2])) != 1 or t.shape[0] < 2:
            raise ShapeError(f"the grid must have the same n >= 2 nodes per axis; got {t.shape}.")
        self.tensors = t
        self.dim = int(t.shape[-1])
        self.resolution = int(t.shape[0])

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_gradient(
        cls,
        gradient: Callable[[torch.Tensor], torch.Tensor],
        dim: int,
        resolution: int | None = None,
        smoothing: float = 1.0,
    ) -> StructureField:
        """Build from ``gradient(U) -> (m, d)``, the field's gradient at unit-box points ``U``.

        The outer products are smoothed by a Gaussian of ``smoothing`` grid cells (a
        gradient that vanishes at the crest of a peak still gets the peak's structure)
        and scaled to a mean trace of one; a field with no gradient anywhere is all zero.
        """
        n = default_resolution(dim) if resolution is None else int(resolution)
        ticks = torch.linspace(0.0, 1.0, n, dtype=torch.float64)
        nodes = torch.stack(torch.meshgrid(*[ticks] * dim, indexing="ij"), dim=-1).reshape(-1, dim)
        g = gradient(nodes).detach().to(torch.float64).cpu()
        if g.shape != nodes.shape:
            raise ShapeError(f"gradient returned shape {tuple(g.shape)}; expected {nodes.shape}.")
        outer = (g[:, :, None] * g[:, None, :]).reshape(*[n] * dim, dim, dim).numpy()
        if smoothing > 0:
            sigma = [smoothing] * dim + [0.0, 0.0]  # smooth over the grid, not the matrix
            outer = gaussian_filter(outer, sigma=sigma, mode="nearest")
        outer = 0.5 * (outer + np.swapaxes(outer, -1, -2))
        trace = np.trace(outer, axis1=-2, axis2=-1)
        scale = float(trace.mean())
        if not np.isfinite(scale) or scale <= 0.0:
            outer = np.zeros_like(outer)
        else:
            outer = outer / scale
        return cls(torch.from_numpy(np.ascontiguousarray(outer)))

    # ------------------------------------------------------------------ evaluation
    def __call__(self, U: torch.Tensor) -> torch.Tensor:
        """``(m, d, d)`` tensors at unit-box points ``U`` ``(m, d)``; multilinear, clamped."""
        if U.ndim != 2 or U.shape[1] != self.dim:
            raise ShapeError(f"points must have shape (m, {self.dim}); got {tuple(U.shape)}.")
        T = self.tensors.to(device=U.device, dtype=U.dtype)
        n = self.resolution
        pos = U.clamp(0.0, 1.0) * (n - 1)
        base = pos.detach().floor().clamp(0, n - 2).long()
        frac = pos - base
        out = U.new_zeros(U.shape[0], self.dim, self.dim)
        for corner in range(2**self.dim):
            bits = [(corner >> i) & 1 for i in range(self.dim)]
            weight = U.new_ones(U.shape[0])
            index = []
            for i, b in enumerate(bits):
                weight = weight * (frac[:, i] if b else 1.0 - frac[:, i])
                index.append(base[:, i] + b)
            out = out + weight[:, None, None] * T[tuple(index)]
        return out

    def mean_tensor(self) -> torch.Tensor:
        """The field's average ``(d, d)`` tensor."""
        return self.tensors.reshape(-1, self.dim, self.dim).mean(0)

    # ------------------------------------------------------------------ state
    def to_array(self) -> np.ndarray:
        """The grid as a float32 array (for an agent's state; float32 is ample here)."""
        return self.tensors.numpy().astype(np.float32)

    @classmethod
    def from_array(cls, array: np.ndarray) -> StructureField:
        return cls(torch.from_numpy(np.asarray(array, dtype=np.float64)))

    def __repr__(self) -> str:
        return f"StructureField(dim={self.dim}, resolution={self.resolution})"


def field_kernels(module: Any) -> list[Any]:
    """The kernels in a kernel tree that take a structure field (they have ``set_field``)."""
    found = [module] if hasattr(module, "set_field") else []
    for child in getattr(module, "_children", {}).values():
        found.extend(field_kernels(child))
    return found


@dataclass(frozen=True)
class StructureSource:
    """What a structure field was computed from, so that it can be computed again.

    The field is the structure of the model's *stationary* estimate (its edge kernels
    without a field) on its first ``n_points`` points, with raw hyperparameters ``theta``
    and output scale ``y_scale``: a few numbers instead of a grid, so a run can record
    it with every decision and a replay rebuilds the same field.
    """

    n_points: int
    theta: tuple[float, ...]
    y_scale: float

    def to_dict(self) -> dict[str, Any]:
        return {"n_points": self.n_points, "theta": list(self.theta), "y_scale": self.y_scale}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StructureSource:
        try:
            return cls(
                int(data["n_points"]),
                tuple(float(v) for v in data["theta"]),
                float(data["y_scale"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigurationError(f"not a structure source: {data!r} ({exc})") from exc


def structure_of(
    gp: GaussianProcess, resolution: int | None = None, chunk: int = 2048
) -> StructureField:
    """The structure field of ``gp``'s posterior mean: where, and across which direction,
    the current estimate of the field changes fast (in the GP's unit-box coordinates)."""
    dim = gp.dim
    if dim is None or gp.n == 0:
        raise ConfigurationError("structure_of needs a GP with data; call set_data first.")
    bounds = torch.as_tensor(gp.input_bounds, dtype=gp.dtype, device=gp.device)
    lo, width = bounds[:, 0], bounds[:, 1] - bounds[:, 0]

    def gradient(U: torch.Tensor) -> torch.Tensor:
        out = []
        for part in U.split(chunk):
            u = part.to(dtype=gp.dtype, device=gp.device).requires_grad_(True)
            mean = gp.posterior_mean(lo + u * width)
            (g,) = torch.autograd.grad(mean.sum(), u)
            out.append(g.detach())
        return torch.cat(out) / gp.y_scale

    return StructureField.from_gradient(gradient, dim, resolution)


def refresh_structure(gp: GaussianProcess) -> StructureSource | None:
    """Give ``gp``'s edge kernels the structure of its current stationary estimate.

    Returns what the field was computed from (for :func:`restore_structure`), or ``None``
    when ``gp`` has no edge kernel or too many input dimensions for a field.
    """
    kernels = field_kernels(gp.kernel)
    if not kernels or gp.n == 0 or (gp.dim or 0) > MAX_FIELD_DIM:
        return None
    source = StructureSource(gp.n, tuple(gp.theta.detach().cpu().tolist()), gp.y_scale)
    _apply(gp, kernels, _stationary_structure(gp, kernels))
    return source


def restore_structure(gp: GaussianProcess, source: StructureSource) -> None:
    """Compute the field ``source`` describes on ``gp``'s data and give it to its edge kernels.

    ``gp`` holds at least ``source.n_points`` points, in the order they were told; its own
    hyperparameters and scaling are left as they were.
    """
    kernels = field_kernels(gp.kernel)
    if not kernels:
        raise ConfigurationError("restore_structure: the model has no edge kernel.")
    if source.n_points > gp.n:
        raise ConfigurationError(
            f"the structure was computed on {source.n_points} points; the model has {gp.n}."
        )
    pilot = gp.subset(np.arange(source.n_points), y_scale=source.y_scale)
    theta_now = gp.theta.detach().clone()
    try:
        pilot.set_theta(np.asarray(source.theta, dtype=np.float64))
        field = _stationary_structure(pilot, kernels)
    finally:
        gp.set_theta(theta_now)  # shared modules: put this model's hyperparameters back
    _apply(gp, kernels, field)


#: Passes of "read the edges of the estimate, re-estimate with them" after the first
#: (stationary) one: each pass sharpens the field where the data show an edge.
SHARPENING_PASSES = 1


def _stationary_structure(gp: GaussianProcess, kernels: list[Any]) -> StructureField:
    """The structure of ``gp``'s estimate, starting from its edge kernels stationary (no
    field) and sharpened :data:`SHARPENING_PASSES` times: a function of the data and the
    hyperparameters alone, so it can be recomputed exactly."""
    saved = [k.field for k in kernels]
    try:
        field = None
        for _ in range(1 + SHARPENING_PASSES):
            for k in kernels:
                k.set_field(field)
            gp.refactor()
            with torch.enable_grad():
                field = structure_of(gp)
        return field
    finally:
        for k, before in zip(kernels, saved, strict=True):
            k.set_field(before)
        gp.refactor()


def _apply(gp: GaussianProcess, kernels: list[Any], field: StructureField) -> None:
    for k in kernels:
        k.set_field(field)
    gp.refactor()
