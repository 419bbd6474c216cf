"""Layer 1: the Gaussian-process engine (torch, float64, autograd).

Kernels, prior means and noise models are small modules with named, bounded
hyperparameters; :class:`GaussianProcess` does exact inference with an incrementally
updated Cholesky factor; :func:`fit_hyperparameters` trains by multi-start L-BFGS-B.
"""

from gpsteer.gp import kernels
from gpsteer.gp.fit import FitResult, FitStatus, LocalOptimum, fit_hyperparameters
from gpsteer.gp.hyperparameters import (
    GammaPrior,
    Hyperparameter,
    LogNormalPrior,
    Module,
    NormalPrior,
)
from gpsteer.gp.kernels import (
    RBF,
    FunctionKernel,
    Kernel,
    Linear,
    Matern,
    Periodic,
    ScaleKernel,
    SquaredExponential,
    make_kernel,
)
from gpsteer.gp.means import ConstantMean, FunctionMean, Mean, ZeroMean
from gpsteer.gp.model import GaussianProcess, Posterior
from gpsteer.gp.noise import HomoscedasticNoise, MeasuredNoise, NoiseModel

__all__ = [
    "RBF",
    "ConstantMean",
    "FitResult",
    "FitStatus",
    "FunctionKernel",
    "FunctionMean",
    "GammaPrior",
    "GaussianProcess",
    "HomoscedasticNoise",
    "Hyperparameter",
    "Kernel",
    "Linear",
    "LocalOptimum",
    "LogNormalPrior",
    "Matern",
    "Mean",
    "MeasuredNoise",
    "Module",
    "NoiseModel",
    "NormalPrior",
    "Periodic",
    "Posterior",
    "ScaleKernel",
    "SquaredExponential",
    "ZeroMean",
    "fit_hyperparameters",
    "kernels",
    "make_kernel",
]
