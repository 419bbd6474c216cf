"""The kernel interface: ``k(x1, x2) -> (n, m)`` covariance, composable with ``+`` and ``*``."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from gpsteer.errors import ShapeError
from gpsteer.gp.hyperparameters import Module

__all__ = ["Kernel", "squared_distance"]


def squared_distance(x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
    """Pairwise squared Euclidean distances ``(n, m)``, centred for accuracy, never negative.

    When ``x2 is x1`` the diagonal is exactly zero: the expansion leaves ~1e-16 there,
    and a kernel of ``sqrt(d2)`` (Matérn 1/2) would turn that into a 1e-8 error.
    """
    centre = x1.mean(dim=0, keepdim=True) if x1.shape[0] else 0.0
    a = x1 - centre
    b = a if x2 is x1 else x2 - centre
    d2 = (a * a).sum(-1, keepdim=True) - 2.0 * a @ b.T + (b * b).sum(-1).unsqueeze(0)
    d2 = d2.clamp_min(0.0)
    if x2 is x1:
        eye = torch.eye(d2.shape[0], dtype=torch.bool, device=d2.device)
        d2 = d2.masked_fill(eye, 0.0)
    return d2


class Kernel(Module):
    """A covariance function over inputs in the model's (unit-box) coordinates.

    Subclasses implement :meth:`forward` on the active input columns. ``k1 + k2``,
    ``k1 * k2`` and ``2.0 * k`` build sum, product and scaled kernels.

    Parameters
    ----------
    active_dims
        Input columns this kernel looks at (default: all). Lets a periodic kernel act on
        one axis while another kernel covers the rest.
    """

    def __init__(self, active_dims: Sequence[int] | None = None) -> None:
        super().__init__()
        self.active_dims = None if active_dims is None else tuple(int(i) for i in active_dims)
        self.input_dim: int | None = None
        self._n_columns: int | None = None  # columns of the inputs this kernel was bound to

    # -- to implement -------------------------------------------------------------
    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        """Covariance ``(n, m)`` between rows of ``x1`` ``(n, d)`` and ``x2`` ``(m, d)``."""
        raise NotImplementedError(f"{type(self).__name__} must implement forward(x1, x2)")

    def forward_diag(self, x: torch.Tensor) -> torch.Tensor:
        """``k(x_i, x_i)`` ``(n,)``; override when cheaper than the full matrix."""
        if x.shape[0] == 0:
            return x.new_zeros(0)
        return torch.stack([self.forward(row[None], row[None])[0, 0] for row in x])

    # -- public -------------------------------------------------------------------
    def __call__(self, x1: torch.Tensor, x2: torch.Tensor | None = None) -> torch.Tensor:
        x2 = x1 if x2 is None else x2
        if x1.ndim != 2 or x2.ndim != 2 or x1.shape[1] != x2.shape[1]:
            raise ShapeError(
                f"Kernel inputs must be 2-D with the same number of columns; got "
                f"{tuple(x1.shape)} and {tuple(x2.shape)}."
            )
        self._check_columns(x1)
        s1 = self._select(x1)
        # keep ``x2 is x1`` visible to forward(): the self-covariance has an exact diagonal
        return self.forward(s1, s1 if x2 is x1 else self._select(x2))

    def diag(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2:
            raise ShapeError(f"Kernel inputs must be 2-D (n, d); got {tuple(x.shape)}.")
        self._check_columns(x)
        return self.forward_diag(self._select(x))

    def _check_columns(self, x: torch.Tensor) -> None:
        # Bind on the full inputs (before active_dims selects columns), so a kernel used on
        # its own finishes construction the same way a model would bind it.
        if self._n_columns is None:
            self.bind(x)
        elif x.shape[1] != self._n_columns:
            raise ShapeError(
                f"{type(self).__name__} was bound to inputs with {self._n_columns} column(s) "
                f"but got {x.shape[1]}; pass inputs of the model's input dimension "
                f"({self._n_columns})."
            )

    def bind(self, X: torch.Tensor, y: torch.Tensor | None = None) -> None:
        self.bind_columns(X)
        super().bind(X, y)

    def bind_columns(self, X: torch.Tensor) -> list[int]:
        """Check ``active_dims`` against ``X`` and record the input dimension; return the
        active columns.

        What :meth:`bind` does for this kernel itself, without binding its children: a
        wrapper kernel that binds its base on transformed inputs calls this instead.
        """
        d = X.shape[1]
        cols = list(range(d)) if self.active_dims is None else list(self.active_dims)
        bad = [i for i in cols if not -d <= i < d]
        if bad:
            raise ShapeError(
                f"{type(self).__name__}: active_dims {bad} do not exist in {d}-D inputs; "
                f"use indices 0..{d - 1}."
            )
        self.input_dim = len(cols)
        self._n_columns = d
        return cols

    def _select(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.active_dims is None else x[:, list(self.active_dims)]

    # -- algebra --------------------------------------------------------------------
    def __add__(self, other: Kernel) -> Kernel:
        from gpsteer.gp.kernels.composite import SumKernel

        return SumKernel(self, other)

    def __mul__(self, other: Kernel | float) -> Kernel:
        from gpsteer.gp.kernels.composite import ProductKernel, ScaleKernel

        if isinstance(other, (int, float)):
            return ScaleKernel(self, outputscale=float(other))
        return ProductKernel(self, other)

    def __rmul__(self, other: float) -> Kernel:
        return self.__mul__(other)

    def __repr__(self) -> str:
        hps = ", ".join(
            f"{n}={[round(v, 4) for v in vals]}" for n, vals in self.hyperparameter_values().items()
        )
        return f"{type(self).__name__}({hps})"
