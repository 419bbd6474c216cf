"""Layer 3: acquisition functions and their optimization.

What a measurement at ``x`` is worth (:mod:`~gpsteer.acquisition.functions`), how to
find the best ``x`` over a box, a candidate set and constraints
(:mod:`~gpsteer.acquisition.optimize`), how to choose a batch jointly
(:mod:`~gpsteer.acquisition.batch`) and how motion time enters
(:mod:`~gpsteer.acquisition.motion`); scores on whole spectra
(:mod:`~gpsteer.acquisition.spectral`). Knows the GP engine, nothing above it.
"""

import warnings
from typing import Any

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
    MapUncertainty,
    MutualInformation,
    PosteriorVariance,
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
from gpsteer.acquisition.spectral import (
    RegionScores,
    cluster_spectra,
    region_discovery,
    total_variance,
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
    "MapUncertainty",
    "MotionCost",
    "MutualInformation",
    "OptimizationOutcome",
    "OptimizerSettings",
    "PosteriorVariance",
    "ProbabilityOfImprovement",
    "RegionScores",
    "Target",
    "UpperConfidenceBound",
    "cluster_spectra",
    "joint_information",
    "make_acquisition",
    "maximize",
    "order_path",
    "path_time",
    "region_discovery",
    "select_batch",
    "sobol_points",
    "total_variance",
]


def __getattr__(name: str) -> Any:
    if name == "PosteriorStd":  # the old name of PosteriorVariance (one release)
        warnings.warn(
            "gpsteer.acquisition.PosteriorStd is now PosteriorVariance (the 'variance' "
            "acquisition); the old name will be removed in the next release",
            DeprecationWarning,
            stacklevel=2,
        )
        return PosteriorVariance
    raise AttributeError(f"module 'gpsteer.acquisition' has no attribute {name!r}")
