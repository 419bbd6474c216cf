"""Kernels over a categorical input (which sample of a multi-sample holder, which task).

A category is stored as an integer column ``0 .. C-1`` of the inputs. The GP maps every
column to the unit box, so the kernel maps it back with the column's bounds (default
``(0, C-1)``, which must equal the GP's ``input_bounds`` for that column) and checks that
each value is one of the ``C`` integers. The covariance between categories is a
``C x C`` matrix ``B``:

- ``"exchangeable"``: ``B = (1 - rho) I + rho 11^T``, one learned correlation ``rho``
  shared by every pair (samples alike but not identical);
- ``"lowrank"``: ``B = W W^T + diag(kappa)`` (intrinsic coregionalization), learned
  ``W`` (``C x rank``) and ``kappa``: which samples resemble which.

Multiply by a continuous kernel on the other columns (see :func:`mixed_kernel`), or
use the category as a task index: that is the multi-task (coregionalized) GP.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from gpsteer.errors import InputError, ShapeError, UnknownNameError
from gpsteer.gp.kernels.base import Kernel

__all__ = ["Categorical", "mixed_kernel"]

_STRUCTURES = ("exchangeable", "lowrank")


class Categorical(Kernel):
    """``B[c, c']`` for integer-coded categories in one input column.

    Parameters
    ----------
    n_categories
        ``C >= 2``.
    dim
        The input column holding the category.
    structure
        ``"lowrank"`` (default) or ``"exchangeable"``.
    rank
        Columns of ``W`` for ``"lowrank"``.
    column_bounds
        ``(lo, hi)`` the GP uses for this column (default ``(0, C - 1)``).
    """

    def __init__(
        self,
        n_categories: int,
        dim: int,
        *,
        structure: str = "lowrank",
        rank: int = 1,
        column_bounds: tuple[float, float] | None = None,
    ) -> None:
        if int(n_categories) != n_categories or n_categories < 2:
            raise InputError(f"n_categories must be an integer >= 2; got {n_categories}.")
        if structure not in _STRUCTURES:
            raise UnknownNameError(f"Unknown structure {structure!r}; use one of {_STRUCTURES}.")
        if not 1 <= rank <= n_categories:
            raise InputError(f"rank must be in 1..{n_categories}; got {rank}.")
        super().__init__(active_dims=[int(dim)])
        self.n_categories, self.structure, self.rank = int(n_categories), structure, int(rank)
        lo, hi = column_bounds if column_bounds is not None else (0.0, n_categories - 1.0)
        if not hi > lo:
            raise InputError(f"column_bounds need lo < hi; got {column_bounds}.")
        self.column_bounds = (float(lo), float(hi))
        C = self.n_categories
        if structure == "exchangeable":
            self.register_hyperparameter(
                "correlation",
                0.5,
                bounds=(-1.0 / (C - 1) + 1e-3, 0.999),
                transform="identity",
                start_bounds=(0.0, 0.95),
            )
        else:
            self.register_hyperparameter(
                "W",
                torch.full((C * rank,), 1.0 / rank**0.5),
                bounds=(-5.0, 5.0),
                transform="identity",
                start_bounds=(-1.0, 1.0),
                doc="coregionalization loadings (C x rank, row-major)",
            )
            self.register_hyperparameter(
                "kappa", torch.full((C,), 0.1), bounds=(1e-4, 10.0), start_bounds=(0.01, 1.0)
            )

    def covariance_matrix(self) -> torch.Tensor:
        """``B`` ``(C, C)``: covariance between categories."""
        C = self.n_categories
        if self.structure == "exchangeable":
            rho = self._value("correlation")[0]
            eye = torch.eye(C, dtype=rho.dtype, device=rho.device)
            return (1.0 - rho) * eye + rho
        W = self._value("W").reshape(C, self.rank)
        return W @ W.T + torch.diag(self._value("kappa"))

    def category(self, u: torch.Tensor) -> torch.Tensor:
        """Integer categories ``(n,)`` from the unit-box column ``u`` ``(n, 1)``."""
        lo, hi = self.column_bounds
        value = lo + u[:, 0].detach() * (hi - lo)
        idx = torch.round(value)
        bad = ((value - idx).abs() > 1e-6) | (idx < 0) | (idx > self.n_categories - 1)
        if bad.any():
            raise InputError(
                f"Category column {self.active_dims[0]} holds {value[bad][:3].tolist()}; it must "
                f"hold integers 0..{self.n_categories - 1}, and the GP's input_bounds for it "
                f"must be {self.column_bounds} (or pass column_bounds=)."
            )
        return idx.long()

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        B = self.covariance_matrix()
        return B[self.category(x1)][:, self.category(x2)]

    def forward_diag(self, x: torch.Tensor) -> torch.Tensor:
        return self.covariance_matrix().diagonal()[self.category(x)]


def mixed_kernel(
    n_dims: int,
    categorical_dim: int,
    n_categories: int,
    *,
    continuous: Kernel | None = None,
    structure: str = "lowrank",
    rank: int = 1,
    column_bounds: tuple[float, float] | None = None,
) -> Kernel:
    """``Categorical(categorical_dim) * continuous(other columns)`` for mixed inputs.

    Why: a continuous kernel that also looked at the category column would treat
    sample 2 as "between" samples 1 and 3. ``continuous`` must not set ``active_dims``
    (default: a Matérn-5/2 with ARD length scales); it is restricted to the other columns.
    """
    from gpsteer.gp.kernels.stationary import Matern

    if not 0 <= categorical_dim < n_dims:
        raise ShapeError(f"categorical_dim {categorical_dim} does not exist in {n_dims}-D inputs.")
    others: Sequence[int] = [i for i in range(n_dims) if i != categorical_dim]
    if continuous is None:
        continuous = Matern(nu=2.5, active_dims=others)
    elif continuous.active_dims is not None:
        raise InputError(
            "mixed_kernel restricts `continuous` to the non-categorical columns itself; build "
            "it without active_dims."
        )
    else:
        continuous.active_dims = tuple(others)
    cat = Categorical(
        n_categories, categorical_dim, structure=structure, rank=rank, column_bounds=column_bounds
    )
    return cat * continuous
