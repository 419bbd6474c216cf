"""Kernels written by the user as a plain torch function ``k(x1, x2, params)``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch

from gpsteer.errors import InputError, ShapeError
from gpsteer.gp.kernels.base import Kernel

__all__ = ["FunctionKernel", "ParameterSpec"]

#: ``name -> (initial value, (lo, hi))`` or ``name -> (initial, (lo, hi), transform)``.
ParameterSpec = Mapping[str, tuple]


class FunctionKernel(Kernel):
    """A kernel from a function ``fn(x1, x2, params) -> (n, m)`` tensor.

    ``params`` maps each name in ``parameters`` to its current value (a 1-D tensor), so
    training fits them with autograd like any built-in kernel. The function receives
    inputs in the model's unit-box coordinates and must be positive semi-definite.

    Examples
    --------
    >>> import torch
    >>> def k(x1, x2, p):
    ...     return p["amp"] * torch.exp(-torch.cdist(x1, x2) / p["scale"])
    >>> kern = FunctionKernel(k, {"amp": (1.0, (1e-3, 1e3)), "scale": (0.2, (1e-3, 10.0))})
    >>> kern(torch.zeros(2, 2, dtype=torch.float64)).shape
    torch.Size([2, 2])
    """

    def __init__(
        self,
        fn: Callable[[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]], torch.Tensor],
        parameters: ParameterSpec,
        *,
        active_dims: Sequence[int] | None = None,
    ) -> None:
        if not callable(fn):
            raise InputError(f"FunctionKernel needs a callable; got {type(fn).__name__}.")
        super().__init__(active_dims)
        self.fn = fn
        for name, spec in parameters.items():
            if not 2 <= len(spec) <= 3:
                raise InputError(
                    f"Parameter {name!r}: give (initial, (lo, hi)) or (initial, (lo, hi), "
                    f"'log'|'identity'); got {spec!r}."
                )
            transform = spec[2] if len(spec) == 3 else "log"
            self.register_hyperparameter(name, spec[0], bounds=spec[1], transform=transform)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        params = {name: hp.value for name, hp in self._hyperparameters.items()}
        out = self.fn(x1, x2, params)
        if out.shape != (x1.shape[0], x2.shape[0]):
            raise ShapeError(
                f"User kernel {getattr(self.fn, '__name__', self.fn)!r} returned shape "
                f"{tuple(out.shape)}; it must return ({x1.shape[0]}, {x2.shape[0]})."
            )
        return out
