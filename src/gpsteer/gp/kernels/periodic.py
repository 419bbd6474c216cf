"""Periodic kernel: fields that repeat along chosen axes (lattices, gratings)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from gpsteer.errors import ShapeError
from gpsteer.gp.hyperparameters import Prior
from gpsteer.gp.kernels.base import Kernel

__all__ = ["Periodic"]


class Periodic(Kernel):
    """``exp(-2 sum_d sin^2(pi |x1_d - x2_d| / p_d) / l_d^2)`` with one period and length per axis.

    Parameters
    ----------
    period
        Initial period(s) in unit-box coordinates (1.0 spans the whole axis).
    lengthscale
        Initial length scale(s) of the variation within one period.
    fixed_period
        Keep the period as given (a known lattice constant) instead of learning it.
    """

    def __init__(
        self,
        period: float | Sequence[float] = 0.25,
        lengthscale: float | Sequence[float] = 1.0,
        *,
        period_bounds: tuple[float, float] = (1e-3, 10.0),
        lengthscale_bounds: tuple[float, float] = (1e-2, 1e2),
        period_prior: Prior | None = None,
        fixed_period: bool = False,
        active_dims: Sequence[int] | None = None,
    ) -> None:
        super().__init__(active_dims)
        self._period = period
        self._lengthscale = lengthscale
        self._period_options = dict(bounds=period_bounds, prior=period_prior, fixed=fixed_period)
        self._ls_bounds = lengthscale_bounds

    def _expand(self, value: float | Sequence[float], name: str) -> torch.Tensor:
        v = torch.as_tensor(value, dtype=torch.float64).reshape(-1)
        if v.numel() == 1:
            v = v.expand(self.input_dim)
        if v.numel() != self.input_dim:
            raise ShapeError(
                f"Periodic got {v.numel()} {name} values for {self.input_dim} dimension(s)."
            )
        return v

    def bind(self, X: torch.Tensor, y: torch.Tensor | None = None) -> None:
        super().bind(X, y)
        if "period" in self._hyperparameters:
            return
        self.register_hyperparameter(
            "period",
            self._expand(self._period, "period"),
            like=X,
            start_bounds=(0.05, 1.0),
            **self._period_options,
        )
        self.register_hyperparameter(
            "lengthscale",
            self._expand(self._lengthscale, "lengthscale"),
            bounds=self._ls_bounds,
            like=X,
            start_bounds=(0.3, 3.0),
        )

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        if "period" not in self._hyperparameters:
            self.bind(x1)
        period, ls = self._value("period"), self._value("lengthscale")
        diff = x1.unsqueeze(1) - x2.unsqueeze(0)  # (n, m, d)
        s = torch.sin(math.pi * diff / period) / ls
        return torch.exp(-2.0 * (s * s).sum(-1))

    def forward_diag(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ones(x.shape[0], dtype=x.dtype, device=x.device)
