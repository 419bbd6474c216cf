"""Kernels by name, so configurations (and stored runs) can name them as plain strings."""

from __future__ import annotations

from collections.abc import Callable

from gpsteer.errors import UnknownNameError
from gpsteer.gp.kernels.base import Kernel
from gpsteer.gp.kernels.composite import ScaleKernel
from gpsteer.gp.kernels.edge import EdgeAligned
from gpsteer.gp.kernels.linear import Linear
from gpsteer.gp.kernels.periodic import Periodic
from gpsteer.gp.kernels.stationary import Matern, SquaredExponential

__all__ = ["KERNELS", "make_kernel"]

#: Each name builds a kernel *with* a trainable output scale, ready for a GP.
KERNELS: dict[str, Callable[[], Kernel]] = {
    "edge": lambda: ScaleKernel(EdgeAligned()),
    "matern52": lambda: ScaleKernel(Matern(nu=2.5)),
    "matern32": lambda: ScaleKernel(Matern(nu=1.5)),
    "matern12": lambda: ScaleKernel(Matern(nu=0.5)),
    "rbf": lambda: ScaleKernel(SquaredExponential()),
    "periodic": lambda: ScaleKernel(Periodic()),
    "linear": lambda: Linear(),
}


def make_kernel(name: str) -> Kernel:
    """Build a kernel from its name (``"matern52"``, ``"rbf"``, ...)."""
    try:
        return KERNELS[name]()
    except KeyError:
        raise UnknownNameError(
            f"Unknown kernel {name!r}; choose one of {sorted(KERNELS)} or pass a Kernel object."
        ) from None
