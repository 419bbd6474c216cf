"""Layer 3: acquisition functions and their optimization.

What a measurement at ``x`` is worth (:mod:`~gpsteer.acquisition.functions`), how to
find the best ``x`` over a box, a candidate set and constraints
(:mod:`~gpsteer.acquisition.optimize`), how to choose a batch jointly
(:mod:`~gpsteer.acquisition.batch`) and how motion time enters
(:mod:`~gpsteer.acquisition.motion`). Knows the GP engine, nothing above it.
"""

from gpsteer.acquisition.batch import BatchSelection, select_batch
from gpsteer.acquisition.functions import (
    ACQUISITIONS,
    Acquisition,
    AcquisitionContext,
    Boundary,
    CallableAcquisition,
    ExpectedImprovement,
    Gradient,
    LowerConfidenceBound,
    MutualInformation,
    PosteriorStd,
    ProbabilityOfImprovement,
    Target,
    UpperConfidenceBound,
    joint_information,
    make_acquisition,
)
from gpsteer.acquisition.motion import MotionCost, order_path, path_time
from gpsteer.acquisition.optimize import (
    OptimizationOutcome,
    OptimizerSettings,
    maximize,
    sobol_points,
)

__all__ = [
    "ACQUISITIONS",
    "Acquisition",
    "AcquisitionContext",
    "BatchSelection",
    "Boundary",
    "CallableAcquisition",
    "ExpectedImprovement",
    "Gradient",
    "LowerConfidenceBound",
    "MotionCost",
    "MutualInformation",
    "OptimizationOutcome",
    "OptimizerSettings",
    "PosteriorStd",
    "ProbabilityOfImprovement",
    "Target",
    "UpperConfidenceBound",
    "joint_information",
    "make_acquisition",
    "maximize",
    "order_path",
    "path_time",
    "select_batch",
    "sobol_points",
]
