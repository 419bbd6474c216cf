"""A kernel periodic on a crystal lattice: invariant under every lattice translation.

Translations by lattice vectors form an infinite group, so they cannot be averaged
like the finite groups of :mod:`gpsteer.gp.kernels.symmetry`. The exact answer is the
lattice sum of a squared-exponential kernel, ``k(x, x') = sum_R k_SE(x - x' + R)``,
which by Poisson summation is a Fourier series over the reciprocal lattice with
non-negative weights ``w(G) = exp(-l^2 |G|^2 / 2)``:

    k(x, x') = sum_{|G| <= cutoff} w(G) cos(G . (x - x')) / sum_G w(G)

Truncating the series to a ball keeps every term, so the kernel stays positive
semi-definite and keeps every rotation or mirror of the lattice (its point group):
on a hexagonal lattice it is six-fold symmetric by construction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from gpsteer.errors import InputError, ShapeError
from gpsteer.gp.kernels.base import Kernel
from gpsteer.gp.kernels.periodic import Periodic

__all__ = ["LatticePeriodic", "estimate_period", "periodic_in_user_units"]


class LatticePeriodic(Kernel):
    """Periodic on the lattice spanned by ``lattice_vectors`` (rows, user units).

    Parameters
    ----------
    lattice_vectors
        ``(d, d)`` primitive vectors as rows, in user units (1-D: ``[[period]]``).
    lengthscale
        Smoothness within one cell, relative to the shortest lattice vector.
    n_harmonics
        Cut-off of the Fourier series: reciprocal vectors up to ``n_harmonics`` times the
        shortest one. Fine detail below ``1 / n_harmonics`` of a cell is not represented.
    input_bounds
        The GP's ``input_bounds`` (all dimensions); None: the vectors are in unit-box
        coordinates.
    learn_scale
        Train a common scale factor of the lattice (start 1, within ``scale_bounds``), for
        a lattice constant known only roughly. Default: the lattice is fixed.
    active_dims
        Columns the lattice lives in (default all).
    """

    def __init__(
        self,
        lattice_vectors: Sequence[Sequence[float]],
        lengthscale: float = 0.25,
        *,
        n_harmonics: int = 5,
        input_bounds: Sequence[tuple[float, float]] | None = None,
        lengthscale_bounds: tuple[float, float] = (0.05, 5.0),
        learn_scale: bool = False,
        scale_bounds: tuple[float, float] = (0.9, 1.1),
        active_dims: Sequence[int] | None = None,
    ) -> None:
        super().__init__(active_dims)
        a = np.atleast_2d(np.asarray(lattice_vectors, dtype=np.float64))
        if a.shape[0] != a.shape[1]:
            raise ShapeError(f"lattice_vectors must be (d, d) rows; got shape {a.shape}.")
        if abs(np.linalg.det(a)) < 1e-12 * max(1.0, np.abs(a).max()) ** a.shape[0]:
            raise InputError("lattice_vectors are linearly dependent; give d independent rows.")
        if n_harmonics < 1:
            raise InputError(f"n_harmonics must be >= 1; got {n_harmonics}.")
        self.lattice_vectors = a
        self.input_bounds = None if input_bounds is None else np.asarray(input_bounds, float)
        self.n_harmonics = int(n_harmonics)
        self.register_hyperparameter(
            "lengthscale", lengthscale, bounds=lengthscale_bounds, start_bounds=(0.1, 1.0)
        )
        self.register_hyperparameter(
            "scale", 1.0, bounds=scale_bounds, fixed=not learn_scale, start_bounds=scale_bounds
        )
        a_min = float(np.linalg.norm(a, axis=1).min())
        self._a_min = a_min
        recip = 2.0 * math.pi * np.linalg.inv(a).T  # rows b_i with a_i . b_j = 2 pi delta_ij
        cutoff = self.n_harmonics * float(np.linalg.norm(recip, axis=1).min())
        m_max = math.ceil(cutoff * float(np.linalg.norm(a, axis=1).max()) / (2 * math.pi))
        grids = np.meshgrid(*[np.arange(-m_max, m_max + 1)] * a.shape[0], indexing="ij")
        m = np.stack([g.ravel() for g in grids], axis=1)
        G = m @ recip
        G = G[np.linalg.norm(G, axis=1) <= cutoff * (1 + 1e-9)]
        self.reciprocal = G  # (T, d): the full, inversion-symmetric set (user units)
        self._unit_G: np.ndarray | None = None

    def bind(self, X: torch.Tensor, y: torch.Tensor | None = None) -> None:
        super().bind(X, y)
        d = self.lattice_vectors.shape[0]
        if self.input_dim != d:
            raise ShapeError(
                f"The lattice is {d}-D but the kernel sees {self.input_dim} column(s); set "
                f"active_dims to the {d} lattice columns."
            )
        width = np.ones(d)
        if self.input_bounds is not None:
            if self.input_bounds.shape[0] != X.shape[1]:
                raise ShapeError(
                    f"input_bounds has {self.input_bounds.shape[0]} row(s) but the data have "
                    f"{X.shape[1]} column(s); pass the GP's full input_bounds."
                )
            rows = (
                self.input_bounds
                if self.active_dims is None
                else self.input_bounds[list(self.active_dims)]
            )
            width = rows[:, 1] - rows[:, 0]
        # G . (x - x') with x = lo + W u  ==  (G W) . (u - u')
        self._width = width
        self._unit_G = self.reciprocal * width[None, :]

    def _weights_and_phases(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self._unit_G is None:
            self.bind(x)
        G = torch.as_tensor(self._unit_G, dtype=x.dtype, device=x.device)
        G_user = torch.as_tensor(self.reciprocal, dtype=x.dtype, device=x.device)
        ls, scale = self._value("lengthscale")[0], self._value("scale")[0]
        # Vectors a * scale have reciprocal vectors G / scale; the length scale is relative
        # to the cell, so the weights do not depend on the scale.
        w = torch.exp(-0.5 * (ls * self._a_min) ** 2 * (G_user * G_user).sum(-1))
        return w / w.sum(), (x @ G.T) / scale

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        w, p1 = self._weights_and_phases(x1)
        _, p2 = self._weights_and_phases(x2)
        return (torch.cos(p1) * w) @ torch.cos(p2).T + (torch.sin(p1) * w) @ torch.sin(p2).T

    def forward_diag(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ones(x.shape[0], dtype=x.dtype, device=x.device)

    def invariant_under(self, matrices: np.ndarray) -> bool:
        """True when every (unit-box) linear map permutes the reciprocal vectors it uses."""
        if self._unit_G is None or self.active_dims is not None:
            return False
        width = self._width
        G = self.reciprocal
        tol = 1e-8 * max(1.0, float(np.abs(G).max()))
        for A in matrices:
            user = np.diag(width) @ A @ np.diag(1.0 / width)  # back to user coordinates
            if not np.allclose(user.T @ user, np.eye(len(width)), atol=1e-8):
                return False
            # G . (A d) = (A^T G) . d : the set {A^T G} must be the same set.
            moved = G @ user
            gap = np.abs(moved[:, None, :] - G[None, :, :]).max(-1).min(1)
            if (gap > tol).any():
                return False
        return True


def periodic_in_user_units(
    periods: Sequence[float],
    input_bounds: Sequence[tuple[float, float]],
    dims: Sequence[int],
    *,
    fixed_period: bool = True,
    lengthscale: float = 1.0,
    relative_range: float = 2.0,
) -> Periodic:
    """A :class:`~gpsteer.gp.kernels.Periodic` on columns ``dims`` with periods in user units.

    Why: :class:`Periodic` takes periods in unit-box coordinates (1.0 spans an axis) and
    clips an initial value outside its bounds. This converts each period by the width of
    its axis and sets the period bounds to ``[p / relative_range, p * relative_range]``
    around it, so a known lattice constant is kept exactly (``fixed_period=True``) or
    learned near its nominal value.
    """
    b = np.asarray(input_bounds, dtype=np.float64)
    p = np.asarray(periods, dtype=np.float64).reshape(-1)
    dims = [int(i) for i in dims]
    if b.ndim != 2 or b.shape[1] != 2:
        raise ShapeError(f"input_bounds must be [(lo, hi), ...]; got shape {b.shape}.")
    if p.size != len(dims):
        raise ShapeError(f"Got {p.size} period(s) for {len(dims)} dimension(s) in dims={dims}.")
    if (p <= 0).any() or relative_range <= 1.0:
        raise InputError("periods must be > 0 and relative_range > 1.")
    unit = p / (b[dims, 1] - b[dims, 0])
    return Periodic(
        period=unit.tolist(),
        lengthscale=lengthscale,
        period_bounds=(float(unit.min()) / relative_range, float(unit.max()) * relative_range),
        fixed_period=fixed_period,
        active_dims=dims,
    )


def estimate_period(
    x: np.ndarray,
    y: np.ndarray,
    *,
    min_period: float,
    max_period: float,
    n_frequencies: int = 4000,
) -> float:
    """The period (user units) with the most power in a Lomb-Scargle periodogram of ``y(x)``.

    Why: the likelihood of a period is sharply multimodal; L-BFGS converges to the true
    period only from within about ``period / span`` (relative) of it, where ``span / period``
    is the number of periods the data cover. Use this to start a learned period (or to
    fix it). ``x`` is one coordinate of the measured points, unevenly spaced as they are.
    """
    from scipy.signal import lombscargle

    x = np.asarray(x, dtype=np.float64).reshape(-1)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if x.shape != y.shape or x.size < 3:
        raise ShapeError(f"x and y must be 1-D of equal length >= 3; got {x.shape}, {y.shape}.")
    if not 0 < min_period < max_period:
        raise InputError(f"Need 0 < min_period < max_period; got {min_period}, {max_period}.")
    omega = np.linspace(2 * math.pi / max_period, 2 * math.pi / min_period, int(n_frequencies))
    power = lombscargle(x, y - y.mean(), omega)
    return float(2 * math.pi / omega[int(np.argmax(power))])
