"""Linear (dot-product) kernel: trends across the sample."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from gpsteer.gp.kernels.base import Kernel

__all__ = ["Linear"]


class Linear(Kernel):
    """``offset + variance * (x1 - 0.5) . (x2 - 0.5)``: a linear trend, centred on the box.

    Centring on the middle of the unit box keeps the offset and slope weakly correlated.
    """

    def __init__(
        self,
        variance: float = 1.0,
        offset: float = 0.1,
        *,
        variance_bounds: tuple[float, float] = (1e-6, 1e3),
        offset_bounds: tuple[float, float] = (1e-8, 1e2),
        active_dims: Sequence[int] | None = None,
    ) -> None:
        super().__init__(active_dims)
        self.register_hyperparameter("variance", variance, bounds=variance_bounds)
        self.register_hyperparameter("offset", offset, bounds=offset_bounds)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        return self._value("offset") + self._value("variance") * ((x1 - 0.5) @ (x2 - 0.5).T)

    def forward_diag(self, x: torch.Tensor) -> torch.Tensor:
        c = x - 0.5
        return self._value("offset") + self._value("variance") * (c * c).sum(-1)
