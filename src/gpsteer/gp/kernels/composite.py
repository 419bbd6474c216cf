"""Sums, products and scaling of kernels."""

from __future__ import annotations

import torch

from gpsteer.errors import InputError
from gpsteer.gp.hyperparameters import Prior
from gpsteer.gp.kernels.base import Kernel

__all__ = ["ProductKernel", "ScaleKernel", "SumKernel"]


class _PairKernel(Kernel):
    def __init__(self, k1: Kernel, k2: Kernel) -> None:
        for k in (k1, k2):
            if not isinstance(k, Kernel):
                raise InputError(f"Kernels combine only with kernels; got {type(k).__name__}.")
        super().__init__()
        self.k1, self.k2 = k1, k2
        self.register_child("k1", k1)
        self.register_child("k2", k2)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.k1!r}, {self.k2!r})"


class SumKernel(_PairKernel):
    """``k1 + k2``: independent contributions (e.g. a trend plus local structure)."""

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        return self.k1(x1, x2) + self.k2(x1, x2)

    def forward_diag(self, x: torch.Tensor) -> torch.Tensor:
        return self.k1.diag(x) + self.k2.diag(x)


class ProductKernel(_PairKernel):
    """``k1 * k2``: e.g. a periodic pattern whose strength decays with distance."""

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        return self.k1(x1, x2) * self.k2(x1, x2)

    def forward_diag(self, x: torch.Tensor) -> torch.Tensor:
        return self.k1.diag(x) * self.k2.diag(x)


class ScaleKernel(Kernel):
    """``outputscale * base``: the amplitude of the field (in standardised output units)."""

    def __init__(
        self,
        base: Kernel,
        outputscale: float = 1.0,
        *,
        outputscale_bounds: tuple[float, float] = (1e-4, 1e2),
        outputscale_prior: Prior | None = None,
        fixed: bool = False,
    ) -> None:
        if not isinstance(base, Kernel):
            raise InputError(f"ScaleKernel wraps a kernel; got {type(base).__name__}.")
        super().__init__()
        self.base = base
        self.register_child("base", base)
        lo, hi = outputscale_bounds
        self.register_hyperparameter(
            "outputscale",
            min(max(outputscale, lo), hi),
            bounds=outputscale_bounds,
            prior=outputscale_prior,
            fixed=fixed,
            start_bounds=(0.3, 3.0),
        )

    @property
    def outputscale(self) -> torch.Tensor:
        return self._value("outputscale")

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        return self.outputscale * self.base(x1, x2)

    def forward_diag(self, x: torch.Tensor) -> torch.Tensor:
        return self.outputscale * self.base.diag(x)

    def __repr__(self) -> str:
        return f"ScaleKernel(outputscale={self.outputscale.tolist()}, {self.base!r})"
