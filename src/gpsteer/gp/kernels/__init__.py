"""Covariance functions: stationary (SE, Matérn), periodic, linear, user functions, and
their sums, products and scalings. See :mod:`gpsteer.gp.kernels.registry` for names."""

from gpsteer.gp.kernels.base import Kernel, squared_distance
from gpsteer.gp.kernels.categorical import Categorical, mixed_kernel
from gpsteer.gp.kernels.composite import ProductKernel, ScaleKernel, SumKernel
from gpsteer.gp.kernels.edge import EdgeAligned
from gpsteer.gp.kernels.function import FunctionKernel
from gpsteer.gp.kernels.lattice import LatticePeriodic, periodic_in_user_units
from gpsteer.gp.kernels.linear import Linear
from gpsteer.gp.kernels.nonstationary import AmplitudeField, Gibbs, InputWarping
from gpsteer.gp.kernels.periodic import Periodic
from gpsteer.gp.kernels.registry import KERNELS, make_kernel
from gpsteer.gp.kernels.stationary import RBF, Matern, SquaredExponential, StationaryKernel
from gpsteer.gp.kernels.symmetry import SymmetricKernel, SymmetryGroup

__all__ = [
    "KERNELS",
    "RBF",
    "AmplitudeField",
    "Categorical",
    "EdgeAligned",
    "FunctionKernel",
    "Gibbs",
    "InputWarping",
    "Kernel",
    "LatticePeriodic",
    "Linear",
    "Matern",
    "Periodic",
    "ProductKernel",
    "ScaleKernel",
    "SquaredExponential",
    "StationaryKernel",
    "SumKernel",
    "SymmetricKernel",
    "SymmetryGroup",
    "make_kernel",
    "mixed_kernel",
    "periodic_in_user_units",
    "squared_distance",
]
