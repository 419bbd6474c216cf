"""Outputs that are spectra or images: a PCA basis with one GP per component.

The scores that choose where to measure the next spectrum (total variance, region
discovery) are acquisition functions: :mod:`gpsteer.acquisition.spectral`.
"""

from gpsteer._names import moved_names, names_of
from gpsteer.gp.multioutput.pca import PCABasis, poisson_variance
from gpsteer.gp.multioutput.spectral import SpectralGP, SpectralPosterior

__all__ = ["PCABasis", "SpectralGP", "SpectralPosterior", "poisson_variance"]

#: The acquisition scores' old path (one release).
__getattr__ = moved_names(
    __name__,
    names_of(
        "gpsteer.acquisition.spectral",
        ["RegionScores", "cluster_spectra", "region_discovery", "total_variance"],
    ),
)
