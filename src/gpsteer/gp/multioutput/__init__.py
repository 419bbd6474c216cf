"""Outputs that are spectra or images: a PCA basis with one GP per component, and
acquisition scores on whole spectra (total variance, region discovery)."""

from gpsteer.gp.multioutput.acquisition import (
    RegionScores,
    cluster_spectra,
    region_discovery,
    total_variance,
)
from gpsteer.gp.multioutput.pca import PCABasis, poisson_variance
from gpsteer.gp.multioutput.spectral import SpectralGP, SpectralPosterior

__all__ = [
    "PCABasis",
    "RegionScores",
    "SpectralGP",
    "SpectralPosterior",
    "cluster_spectra",
    "poisson_variance",
    "region_discovery",
    "total_variance",
]
