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
    AmplitudeField,
    Categorical,
    FunctionKernel,
    Gibbs,
    InputWarping,
    Kernel,
    LatticePeriodic,
    Linear,
    Matern,
    Periodic,
    ScaleKernel,
    SquaredExponential,
    SymmetricKernel,
    SymmetryGroup,
    make_kernel,
)
from gpsteer.gp.means import ConstantMean, FunctionMean, Mean, ZeroMean
from gpsteer.gp.model import GaussianProcess, Posterior
from gpsteer.gp.multioutput import SpectralGP
from gpsteer.gp.noise import HomoscedasticNoise, MeasuredNoise, NoiseModel

__all__ = [
    "RBF",
    "AmplitudeField",
    "Categorical",
    "ConstantMean",
    "FitResult",
    "FitStatus",
    "FunctionKernel",
    "FunctionMean",
    "GammaPrior",
    "GaussianProcess",
    "Gibbs",
    "HomoscedasticNoise",
    "Hyperparameter",
    "InputWarping",
    "Kernel",
    "LatticePeriodic",
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
    "SpectralGP",
    "SquaredExponential",
    "SymmetricKernel",
    "SymmetryGroup",
    "ZeroMean",
    "fit_hyperparameters",
    "kernels",
    "make_kernel",
]
