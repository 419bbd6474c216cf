"""A principal-component basis for spectra or images, and how noise passes through it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gpsteer.errors import InputError, ShapeError

__all__ = ["PCABasis", "poisson_variance"]


def poisson_variance(counts: np.ndarray, *, floor: float = 1.0) -> np.ndarray:
    """Per-channel variance of counting data: the counts themselves, at least ``floor``.

    Why the floor: a channel that counted 0 is not known exactly; its Poisson rate is
    uncertain by about one count.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if not np.isfinite(counts).all() or (counts < 0).any():
        raise InputError("Poisson counts must be finite and >= 0; pass variances instead.")
    return np.maximum(counts, floor)


@dataclass(frozen=True)
class PCABasis:
    """``y ~ mean + components @ z``: the leading principal components of a set of spectra.

    Attributes
    ----------
    mean
        ``(C,)`` mean spectrum.
    components
        ``(C, q)`` orthonormal columns, each with its largest-magnitude entry positive.
    explained_variance_ratio
        ``(q,)`` fraction of the data variance each component carries.
    """

    mean: np.ndarray
    components: np.ndarray
    explained_variance_ratio: np.ndarray

    @classmethod
    def fit(
        cls,
        Y: np.ndarray,
        *,
        n_components: int | None = None,
        variance_fraction: float = 0.99,
        max_components: int = 10,
    ) -> PCABasis:
        """Fit to ``Y`` ``(n, C)``: ``n_components`` if given, else the fewest components
        that explain ``variance_fraction`` of the variance (at most ``max_components``)."""
        Y = np.asarray(Y, dtype=np.float64)
        if Y.ndim != 2 or Y.shape[0] < 1:
            raise ShapeError(f"Spectra must have shape (n, C); got {Y.shape}.")
        if not np.isfinite(Y).all():
            raise InputError("Spectra contain NaN or inf; remove those measurements first.")
        if not 0.0 < variance_fraction <= 1.0:
            raise InputError(f"variance_fraction must be in (0, 1]; got {variance_fraction}.")
        mean = Y.mean(axis=0)
        _, s, vt = np.linalg.svd(Y - mean, full_matrices=False)
        var = s**2
        total = float(var.sum())
        rank = int((s > 1e-12 * max(float(s[0]) if s.size else 0.0, 1e-300)).sum())
        if n_components is None:
            ratio = np.cumsum(var) / total if total > 0 else np.ones_like(var)
            q = int(np.searchsorted(ratio, variance_fraction - 1e-12) + 1)
            q = max(1, min(q, max_components, max(rank, 1)))
        else:
            if not 1 <= n_components <= min(Y.shape):
                raise InputError(
                    f"n_components must be in 1..{min(Y.shape)} for {Y.shape[0]} spectra of "
                    f"{Y.shape[1]} channels; got {n_components}."
                )
            q = int(n_components)
        V = vt[:q].T.copy()
        signs = np.sign(V[np.abs(V).argmax(axis=0), np.arange(q)])
        V *= np.where(signs == 0, 1.0, signs)
        evr = var[:q] / total if total > 0 else np.zeros(q)
        return cls(mean=mean, components=V, explained_variance_ratio=evr)

    @property
    def n_components(self) -> int:
        return int(self.components.shape[1])

    @property
    def n_channels(self) -> int:
        return int(self.components.shape[0])

    def project(self, Y: np.ndarray) -> np.ndarray:
        """Scores ``(n, q)`` of spectra ``Y`` ``(n, C)``."""
        Y = self._check(Y)
        return (Y - self.mean) @ self.components

    def reconstruct(self, Z: np.ndarray) -> np.ndarray:
        """Spectra ``(n, C)`` from scores ``Z`` ``(n, q)``."""
        Z = np.asarray(Z, dtype=np.float64)
        if Z.ndim != 2 or Z.shape[1] != self.n_components:
            raise ShapeError(f"Scores must have shape (n, {self.n_components}); got {Z.shape}.")
        return self.mean + Z @ self.components.T

    def project_variance(self, channel_variance: np.ndarray) -> np.ndarray:
        """Per-component noise variance ``(n, q)`` from independent per-channel variances.

        ``var(z_k) = sum_c V_ck^2 var(y_c)`` (the covariances between components that the
        projection also creates are dropped: each component has its own GP).
        """
        v = self._check(channel_variance)
        if (v < 0).any():
            raise InputError("Channel variances must be >= 0.")
        return v @ (self.components**2)

    def channel_variance(self, component_variance: np.ndarray) -> np.ndarray:
        """Per-channel variance ``(n, C)`` from independent component variances ``(n, q)``."""
        return np.asarray(component_variance, dtype=np.float64) @ (self.components**2).T

    def residual_variance(self, Y: np.ndarray) -> np.ndarray:
        """``(C,)`` mean squared truncation error per channel over spectra ``Y``."""
        Y = self._check(Y)
        return ((Y - self.reconstruct(self.project(Y))) ** 2).mean(axis=0)

    def _check(self, Y: np.ndarray) -> np.ndarray:
        Y = np.asarray(Y, dtype=np.float64)
        if Y.ndim != 2 or Y.shape[1] != self.n_channels:
            raise ShapeError(f"Expected shape (n, {self.n_channels}); got {Y.shape}.")
        return Y
