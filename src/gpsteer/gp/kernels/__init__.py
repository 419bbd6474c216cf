"""Covariance functions: stationary (SE, Matérn), periodic, linear, user functions, and
their sums, products and scalings. See :mod:`gpsteer.gp.kernels.registry` for names."""

from gpsteer.gp.kernels.base import Kernel, squared_distance
from gpsteer.gp.kernels.composite import ProductKernel, ScaleKernel, SumKernel
from gpsteer.gp.kernels.function import FunctionKernel
from gpsteer.gp.kernels.linear import Linear
from gpsteer.gp.kernels.periodic import Periodic
from gpsteer.gp.kernels.registry import KERNELS, make_kernel
from gpsteer.gp.kernels.stationary import RBF, Matern, SquaredExponential, StationaryKernel

__all__ = [
    "KERNELS",
    "RBF",
    "FunctionKernel",
    "Kernel",
    "Linear",
    "Matern",
    "Periodic",
    "ProductKernel",
    "ScaleKernel",
    "SquaredExponential",
    "StationaryKernel",
    "SumKernel",
    "make_kernel",
    "squared_distance",
]
