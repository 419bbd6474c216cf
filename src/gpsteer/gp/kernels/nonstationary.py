"""Non-stationary kernels: length scale or amplitude that change across the sample.

A coating front or a flake edge is sharp in one place and smooth elsewhere; a
stationary kernel must compromise and is wrong in both. Three remedies, each trained
by :func:`~gpsteer.gp.fit_hyperparameters` with the rest (autograd):

- :class:`Gibbs`: a length-scale *field* ``l_d(u) = l_d * exp(f_d(u))`` with ``f_d`` a small
  expansion in Gaussian bumps on a grid (trainable weights, N(0, 1) prior), in the
  Paciorek form that is positive definite for squared-exponential and Matérn profiles.
- :class:`InputWarping`: each axis bent by a Kumaraswamy CDF ``1 - (1 - u^a)^b``
  before a stationary kernel, which stretches one end of an axis and compresses the
  other (a front near one edge).
- :class:`AmplitudeField`: ``s(u) s(u') k(u, u')`` with ``log s`` a bump expansion (what
  gpCAM calls a non-stationary kernel).

All work in the GP's unit-box coordinates, where the bump grid lives.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from gpsteer.errors import ConfigurationError, InputError, ShapeError
from gpsteer.gp.hyperparameters import NormalPrior, Prior
from gpsteer.gp.kernels.base import Kernel
from gpsteer.gp.kernels.stationary import DEFAULT_LENGTHSCALE_PRIOR

__all__ = ["AmplitudeField", "BumpBasis", "Gibbs", "InputWarping"]

_MAX_BUMPS = 400
_PROFILES = ("rbf", 0.5, 1.5, 2.5)


class BumpBasis:
    """Gaussian bumps on a regular grid of ``n_per_axis`` centres per axis of the unit box.

    The width equals the grid spacing, so a weight vector gives a smooth field that can
    change by order one across a few cells.
    """

    def __init__(self, dim: int, n_per_axis: int) -> None:
        if n_per_axis < 1:
            raise InputError(f"n_centres must be >= 1; got {n_per_axis}.")
        if n_per_axis**dim > _MAX_BUMPS:
            raise ConfigurationError(
                f"{n_per_axis}^{dim} = {n_per_axis**dim} bumps is too many to train; use fewer "
                "centres per axis or restrict the kernel with active_dims."
            )
        ticks = torch.linspace(0.0, 1.0, n_per_axis, dtype=torch.float64)
        if n_per_axis == 1:
            ticks = torch.tensor([0.5], dtype=torch.float64)
        grids = torch.meshgrid(*[ticks] * dim, indexing="ij")
        self.centres = torch.stack([g.reshape(-1) for g in grids], dim=1)
        self.width = 1.0 / max(n_per_axis - 1, 1)

    def __len__(self) -> int:
        return int(self.centres.shape[0])

    def __call__(self, u: torch.Tensor) -> torch.Tensor:
        """``(n, J)`` bump values at ``u`` ``(n, d)``."""
        c = self.centres.to(dtype=u.dtype, device=u.device)
        d2 = ((u.unsqueeze(1) - c.unsqueeze(0)) ** 2).sum(-1)
        return torch.exp(-0.5 * d2 / self.width**2)


def _profile(d2: torch.Tensor, kind: str | float) -> torch.Tensor:
    if kind == "rbf":
        return torch.exp(-0.5 * d2)
    r = d2.clamp_min(1e-30).sqrt()
    if kind == 0.5:
        return torch.exp(-r)
    if kind == 1.5:
        s = math.sqrt(3.0) * r
        return (1.0 + s) * torch.exp(-s)
    s = math.sqrt(5.0) * r
    return (1.0 + s + s * s / 3.0) * torch.exp(-s)


class Gibbs(Kernel):
    """Paciorek/Gibbs kernel with a smooth, learned length-scale field.

    ``k(u, u') = prod_d sqrt(l_d l'_d / m_d) * profile(sum_d (u_d - u'_d)^2 / m_d)`` with
    ``l_d = l_d(u)``, ``l'_d = l_d(u')``, ``m_d = (l_d^2 + l'_d^2) / 2``: for a constant field
    it is the stationary kernel with length scales ``l_d``.

    Parameters
    ----------
    n_centres
        Bumps per axis for the log length-scale field (``n_centres ** d`` weights per field).
    per_dimension
        One field per axis (default) or one field scaling every axis.
    profile
        ``"rbf"`` or a Matérn smoothness 0.5, 1.5, 2.5.
    lengthscale
        Initial base length scale(s) (unit box); the field multiplies it.
    lengthscale_prior
        Prior on the base length scale(s); default the stationary kernels' weak log-normal
        around 0.25, so a flat field is the stationary kernel in training too. Why: without
        it, random starts fell into the white-noise optimum (length scale -> 0) and the
        unused axis ran to the upper bound (measured on benchmarks/bench_domain_knowledge).
    weight_prior_scale
        Standard deviation ``s`` of the N(0, s) prior on each weight. The bumps overlap,
        so at a point the log length scale has a prior spread of about 1.33 s e-folds in
        1-D and 1.77 s in 2-D.
    """

    def __init__(
        self,
        n_centres: int = 4,
        *,
        per_dimension: bool = True,
        profile: str | float = 2.5,
        lengthscale: float | Sequence[float] = 0.2,
        lengthscale_bounds: tuple[float, float] = (1e-3, 1e2),
        lengthscale_prior: Prior | None = DEFAULT_LENGTHSCALE_PRIOR,
        weight_bounds: tuple[float, float] = (-4.0, 4.0),
        weight_prior_scale: float = 1.0,
        active_dims: Sequence[int] | None = None,
    ) -> None:
        if profile not in _PROFILES:
            raise InputError(f"profile must be one of {_PROFILES}; got {profile!r}.")
        super().__init__(active_dims)
        self.n_centres, self.per_dimension, self.profile = n_centres, per_dimension, profile
        self._ls_init, self._ls_bounds = lengthscale, lengthscale_bounds
        self._ls_prior = lengthscale_prior
        self._w_bounds, self._w_prior = weight_bounds, NormalPrior(0.0, weight_prior_scale)
        self.basis: BumpBasis | None = None

    def bind(self, X: torch.Tensor, y: torch.Tensor | None = None) -> None:
        super().bind(X, y)
        if self.basis is not None:
            return
        d = self.input_dim
        self.basis = BumpBasis(d, self.n_centres)
        ls = torch.as_tensor(self._ls_init, dtype=torch.float64).reshape(-1)
        if ls.numel() == 1:
            ls = ls.expand(d)
        if ls.numel() != d:
            raise ShapeError(f"Gibbs got {ls.numel()} length scales for {d} dimension(s).")
        self.register_hyperparameter(
            "lengthscale",
            ls,
            bounds=self._ls_bounds,
            prior=self._ls_prior,
            like=X,
            start_bounds=(0.03, 1.0),
        )
        n_fields = d if self.per_dimension else 1
        self.register_hyperparameter(
            "weights",
            torch.zeros(len(self.basis) * n_fields),
            bounds=self._w_bounds,
            transform="identity",
            prior=self._w_prior,
            like=X,
            start_bounds=(-0.5, 0.5),
            doc="log length-scale field: bump weights",
        )

    def lengthscale_field(self, u: torch.Tensor) -> torch.Tensor:
        """``(n, d)`` local length scales at unit-box points ``u`` (active columns)."""
        if self.basis is None:
            self.bind(u)
        phi = self.basis(u)  # (n, J)
        W = self._value("weights").reshape(-1, len(self.basis)).T  # (J, fields)
        return self._value("lengthscale") * torch.exp(phi @ W)  # broadcasts (n, d)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        l1 = self.lengthscale_field(x1).unsqueeze(1)  # (n, 1, d)
        l2 = self.lengthscale_field(x2).unsqueeze(0)  # (1, m, d)
        m = 0.5 * (l1 * l1 + l2 * l2)
        prefactor = torch.sqrt(l1 * l2 / m).prod(-1)
        diff = x1.unsqueeze(1) - x2.unsqueeze(0)
        return prefactor * _profile((diff * diff / m).sum(-1), self.profile)

    def forward_diag(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ones(x.shape[0], dtype=x.dtype, device=x.device)


class InputWarping(Kernel):
    """``base(w(u), w(u'))`` with ``w_d(u) = 1 - (1 - u_d^a_d)^b_d`` per axis (Kumaraswamy CDF).

    ``a = b = 1`` is the identity. Points outside the unit box are clamped to its faces
    (the warp is only defined on [0, 1]).

    Parameters
    ----------
    base
        Kernel applied to the warped coordinates (e.g. ``Matern()``).
    concentration_bounds
        Bounds on ``a`` and ``b`` (both > 0).
    """

    def __init__(
        self,
        base: Kernel,
        *,
        concentration_bounds: tuple[float, float] = (0.2, 5.0),
        active_dims: Sequence[int] | None = None,
    ) -> None:
        if not isinstance(base, Kernel):
            raise InputError(f"InputWarping wraps a Kernel; got {type(base).__name__}.")
        super().__init__(active_dims)
        self.base = base
        self.register_child("base", base)
        self._bounds = concentration_bounds

    def bind(self, X: torch.Tensor, y: torch.Tensor | None = None) -> None:
        self.bind_columns(X)
        if "a" not in self._hyperparameters:
            for name in ("a", "b"):
                self.register_hyperparameter(
                    name,
                    torch.ones(self.input_dim),
                    bounds=self._bounds,
                    like=X,
                    start_bounds=(0.5, 2.0),
                    doc="Kumaraswamy warping concentration",
                )
        self.base.bind(self.warp(self._select(X)).detach(), y)

    def warp(self, u: torch.Tensor) -> torch.Tensor:
        """Warped coordinates ``(n, d)`` of unit-box points ``u`` (active columns)."""
        if "a" not in self._hyperparameters:
            raise ConfigurationError("InputWarping is not bound yet; give the GP data first.")
        a, b = self._value("a"), self._value("b")
        u = u.clamp(1e-6, 1.0 - 1e-6)
        return 1.0 - (1.0 - u**a) ** b

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        if "a" not in self._hyperparameters:
            self.bind(x1)
        return self.base(self.warp(x1), self.warp(x2))

    def forward_diag(self, x: torch.Tensor) -> torch.Tensor:
        if "a" not in self._hyperparameters:
            self.bind(x)
        return self.base.diag(self.warp(x))


class AmplitudeField(Kernel):
    """``s(u) s(u') base(u, u')`` with ``log s`` a smooth bump expansion (trainable weights).

    For samples whose contrast changes across the map (a bright flake on a dull
    substrate). Put a :class:`~gpsteer.gp.kernels.ScaleKernel` around it for the overall
    amplitude.
    """

    def __init__(
        self,
        base: Kernel,
        n_centres: int = 4,
        *,
        weight_bounds: tuple[float, float] = (-4.0, 4.0),
        weight_prior_scale: float = 1.0,
        active_dims: Sequence[int] | None = None,
    ) -> None:
        if not isinstance(base, Kernel):
            raise InputError(f"AmplitudeField wraps a Kernel; got {type(base).__name__}.")
        super().__init__(active_dims)
        self.base, self.n_centres = base, n_centres
        self.register_child("base", base)
        self._w_bounds, self._w_prior = weight_bounds, NormalPrior(0.0, weight_prior_scale)
        self.basis: BumpBasis | None = None

    def bind(self, X: torch.Tensor, y: torch.Tensor | None = None) -> None:
        self.bind_columns(X)
        if self.basis is None:
            self.basis = BumpBasis(self.input_dim, self.n_centres)
            self.register_hyperparameter(
                "weights",
                torch.zeros(len(self.basis)),
                bounds=self._w_bounds,
                transform="identity",
                prior=self._w_prior,
                like=X,
                start_bounds=(-0.5, 0.5),
                doc="log amplitude field: bump weights",
            )
        self.base.bind(self._select(X), y)

    def amplitude(self, u: torch.Tensor) -> torch.Tensor:
        """``(n,)`` amplitude ``s(u)`` at unit-box points (active columns)."""
        if self.basis is None:
            self.bind(u)
        return torch.exp(self.basis(u) @ self._value("weights"))

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        s1, s2 = self.amplitude(x1), self.amplitude(x2)
        return s1.unsqueeze(1) * self.base(x1, x2) * s2.unsqueeze(0)

    def forward_diag(self, x: torch.Tensor) -> torch.Tensor:
        return self.amplitude(x) ** 2 * self.base.diag(x)
