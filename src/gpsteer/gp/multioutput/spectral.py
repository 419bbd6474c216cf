"""A GP over spectra or images: independent GPs on principal-component scores.

Why this reduction: a spectrum of C channels is highly redundant (a peak that shifts
and broadens is a handful of numbers), so modelling C channels with C GPs wastes
data and time, and a C-output coregionalized GP costs ``(N C)^3``. The leading
principal components of the measured spectra carry almost all the variation; one GP
per component costs ``q`` small GPs. The basis is recomputed as data grow (when the
count has grown by ``refresh_growth`` since the last basis), each new component
taking over the hyperparameters of the old component it most resembles.

Counting noise passes through the projection: with independent per-channel variances
``s_c`` (Poisson: ``s_c = counts``), component ``k`` has variance ``sum_c V_ck^2 s_c``, which
its GP receives as per-point measured noise.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from gpsteer.errors import ConfigurationError, InputError, NotFittedError, ShapeError
from gpsteer.gp.kernels import Kernel, make_kernel
from gpsteer.gp.means import Mean
from gpsteer.gp.model import GaussianProcess
from gpsteer.gp.multioutput.pca import PCABasis, poisson_variance

__all__ = ["SpectralGP", "SpectralPosterior"]

KernelSpec = str | Kernel | Callable[[], Kernel]


@dataclass(frozen=True)
class SpectralPosterior:
    """Predicted spectra with uncertainty, in the user's units.

    ``mean`` and ``variance`` have shape ``(m, *output_shape)`` (per channel or pixel);
    ``component_mean`` and ``component_variance`` are ``(m, q)``.
    """

    mean: np.ndarray
    variance: np.ndarray
    component_mean: np.ndarray
    component_variance: np.ndarray

    @property
    def std(self) -> np.ndarray:
        return self.variance**0.5

    @property
    def total_variance(self) -> np.ndarray:
        """``(m,)`` predicted variance summed over channels."""
        return self.variance.reshape(self.variance.shape[0], -1).sum(axis=1)


class SpectralGP:
    """Whole spectra (or images) as outputs: a PCA basis plus one GP per component.

    Parameters
    ----------
    input_bounds
        ``[(lo, hi), ...]`` of the scanned positions (as for :class:`GaussianProcess`).
    n_components, variance_fraction, max_components
        Fixed number of components, or the fewest that explain ``variance_fraction`` of
        the spectra's variance (at most ``max_components``).
    kernel
        A kernel name, a kernel (copied for each component) or a factory ``() -> Kernel``.
    mean
        ``"constant"`` / ``"zero"`` or a :class:`Mean` (copied for each component).
    refresh_growth
        Recompute the basis when the number of spectra reaches this factor times the
        number the basis was computed from (``None``: only on :meth:`refresh`).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).uniform(0, 1, (30, 2))
    >>> E = np.linspace(-1, 1, 40)
    >>> Y = 100 * np.exp(-((E[None] - X[:, :1] + 0.5) ** 2) / 0.02)
    >>> model = SpectralGP([(0, 1), (0, 1)], n_components=3)
    >>> model.set_data(X, Y, channel_variance="poisson")
    >>> model.predict(X[:2]).mean.shape
    (2, 40)
    """

    def __init__(
        self,
        input_bounds: Sequence[tuple[float, float]],
        *,
        n_components: int | None = None,
        variance_fraction: float = 0.99,
        max_components: int = 8,
        kernel: KernelSpec = "matern52",
        mean: str | Mean = "constant",
        refresh_growth: float | None = 1.5,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        if refresh_growth is not None and refresh_growth <= 1.0:
            raise InputError(f"refresh_growth must be > 1 or None; got {refresh_growth}.")
        if not (isinstance(kernel, (str, Kernel)) or callable(kernel)):
            raise InputError(f"kernel must be a name, a Kernel or a factory; got {kernel!r}.")
        self.input_bounds = [tuple(map(float, b)) for b in input_bounds]
        self.n_components, self.variance_fraction = n_components, variance_fraction
        self.max_components, self.refresh_growth = max_components, refresh_growth
        self._kernel, self._mean = kernel, mean
        self.device, self.dtype = device, dtype
        self.basis: PCABasis | None = None
        self.gps: list[GaussianProcess] = []
        self.output_shape: tuple[int, ...] | None = None
        self._X = np.empty((0, len(self.input_bounds)))
        self._Y = np.empty((0, 0))
        self._var: np.ndarray | None = None
        self._n_at_basis = 0
        self.truncation_variance: np.ndarray | None = None

    # ------------------------------------------------------------------ data
    @property
    def n(self) -> int:
        return int(self._X.shape[0])

    @property
    def dim(self) -> int:
        return len(self.input_bounds)

    @property
    def X(self) -> np.ndarray:
        return self._X.copy()

    @property
    def Y(self) -> np.ndarray:
        """Measured spectra ``(n, *output_shape)``."""
        return self._Y.reshape(self.n, *(self.output_shape or ())).copy()

    def _check(
        self, X: Any, Y: Any, channel_variance: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 1 and self.dim == 1:
            X = X.reshape(-1, 1)
        if X.ndim != 2 or X.shape[1] != self.dim:
            raise ShapeError(f"X must have shape (n, {self.dim}); got {X.shape}.")
        Y = np.asarray(Y, dtype=np.float64)
        if Y.ndim < 2 or Y.shape[0] != X.shape[0]:
            raise ShapeError(
                f"Y must have shape (n, channels...) with n = {X.shape[0]} rows; got {Y.shape}."
            )
        shape = tuple(Y.shape[1:])
        if self.output_shape is not None and shape != self.output_shape:
            raise ShapeError(f"Spectra have shape {shape}; earlier ones had {self.output_shape}.")
        if not (np.isfinite(X).all() and np.isfinite(Y).all()):
            raise InputError("X or Y contain NaN or inf; remove those measurements first.")
        Y2 = Y.reshape(Y.shape[0], -1)
        var = None
        if isinstance(channel_variance, str):
            if channel_variance != "poisson":
                raise InputError(
                    f"channel_variance must be 'poisson', an array or None; got "
                    f"{channel_variance!r}."
                )
            var = poisson_variance(Y2)
        elif channel_variance is not None:
            var = np.asarray(channel_variance, dtype=np.float64)
            if var.shape != Y.shape:
                raise ShapeError(f"channel_variance must have shape {Y.shape}; got {var.shape}.")
            var = var.reshape(Y2.shape)
            if not np.isfinite(var).all() or (var < 0).any():
                raise InputError("channel_variance must be finite and >= 0.")
        return X, Y2, var

    def set_data(self, X: Any, Y: Any, channel_variance: Any = None) -> None:
        """Replace the data: positions ``X`` ``(n, d)``, spectra ``Y`` ``(n, *shape)``.

        ``channel_variance``: ``None`` (noise learned per component), ``"poisson"`` (``Y``
        are counts) or an array shaped like ``Y``.
        """
        self.output_shape = None
        X, Y2, var = self._check(X, Y, channel_variance)
        if X.shape[0] < 2:
            raise InputError("A spectral model needs at least 2 spectra to find a basis.")
        self.output_shape = tuple(np.shape(Y)[1:])
        self._X, self._Y, self._var = X, Y2, var
        self.gps = []
        self.refresh()

    def append(self, X: Any, Y: Any, channel_variance: Any = None) -> None:
        """Add spectra: O(N^2) per component, or a basis refresh when data have grown."""
        if self.basis is None:
            self.set_data(X, Y, channel_variance)
            return
        X, Y2, var = self._check(X, Y, channel_variance)
        if (var is None) != (self._var is None):
            raise ConfigurationError(
                "Either every spectrum comes with channel_variance or none does."
            )
        self._X = np.vstack([self._X, X])
        self._Y = np.vstack([self._Y, Y2])
        if var is not None:
            self._var = np.vstack([self._var, var])
        if self.refresh_growth is not None and self.n >= self.refresh_growth * self._n_at_basis:
            self.refresh()
            return
        Z = self.basis.project(Y2)
        nv = None if var is None else self.basis.project_variance(var)
        for k, gp in enumerate(self.gps):
            gp.append(X, Z[:, k], None if nv is None else nv[:, k])

    # ------------------------------------------------------------------ basis and GPs
    def refresh(self) -> None:
        """Recompute the basis from all spectra and rebuild the component GPs.

        Each new component takes the hyperparameters of the old component it overlaps
        most (and its sign), so a refresh does not throw away training.
        """
        if self.n < 2:
            raise NotFittedError("Give the model at least 2 spectra first.")
        new = PCABasis.fit(
            self._Y,
            n_components=self.n_components,
            variance_fraction=self.variance_fraction,
            max_components=self.max_components,
        )
        carried: list[dict[str, list[float]] | None] = [None] * new.n_components
        if self.basis is not None and self.gps:
            overlap = new.components.T @ self.basis.components  # (q_new, q_old)
            V = new.components.copy()
            for k in range(new.n_components):
                j = int(np.abs(overlap[k]).argmax())
                if overlap[k, j] < 0:
                    V[:, k] *= -1.0
                carried[k] = {
                    name: v
                    for name, v in self.gps[j].hyperparameters().items()
                    if not name.startswith("mean.")
                }
            new = PCABasis(new.mean, V, new.explained_variance_ratio)
        self.basis = new
        self._n_at_basis = self.n
        self.truncation_variance = new.residual_variance(self._Y)
        Z = new.project(self._Y)
        nv = None if self._var is None else new.project_variance(self._var)
        self.gps = []
        for k in range(new.n_components):
            gp = GaussianProcess(
                kernel=self._make_kernel(),
                mean=copy.deepcopy(self._mean),
                input_bounds=self.input_bounds,
                device=self.device,
                dtype=self.dtype,
            )
            gp.set_data(self._X, Z[:, k], None if nv is None else nv[:, k])
            for name, value in (carried[k] or {}).items():
                try:
                    gp.set_hyperparameters({name: value})
                except (InputError, KeyError):
                    continue  # outside the new bounds or a different structure: keep default
            self.gps.append(gp)

    def _make_kernel(self) -> Kernel:
        spec = self._kernel
        if isinstance(spec, str):
            return make_kernel(spec)
        if isinstance(spec, Kernel):
            return copy.deepcopy(spec)
        kernel = spec()
        if not isinstance(kernel, Kernel):
            raise InputError(f"The kernel factory returned {type(kernel).__name__}, not a Kernel.")
        return kernel

    def fit(self, **options: Any) -> list:
        """Train every component GP (``options`` go to :func:`~gpsteer.gp.fit_hyperparameters`)."""
        from gpsteer.gp.fit import fit_hyperparameters

        self._require()
        return [fit_hyperparameters(gp, **options) for gp in self.gps]

    # ------------------------------------------------------------------ prediction
    def _require(self) -> None:
        if self.basis is None:
            raise NotFittedError("The spectral model has no data; call set_data(X, Y) first.")

    def posterior_components(self, Xq: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mean, variance)`` of the component scores at ``Xq``, each ``(m, q)``, as tensors.

        Differentiable in ``Xq`` (for gradient-based acquisition).
        """
        self._require()
        posts = [gp.posterior(Xq) for gp in self.gps]
        return (
            torch.stack([p.mean for p in posts], dim=1),
            torch.stack([p.variance for p in posts], dim=1),
        )

    def predict(self, Xq: Any, *, include_truncation: bool = False) -> SpectralPosterior:
        """Predicted spectra at ``Xq`` ``(m, d)``: mean and per-channel variance.

        ``include_truncation`` adds the mean squared error of the discarded components
        (measured on the data) to the variance.
        """
        with torch.no_grad():
            mu, var = self.posterior_components(Xq)
        mu, var = mu.cpu().numpy(), var.cpu().numpy()
        mean = self.basis.reconstruct(mu)
        chan_var = self.basis.channel_variance(var)
        if include_truncation:
            chan_var = chan_var + self.truncation_variance
        shape = (mu.shape[0], *self.output_shape)
        return SpectralPosterior(
            mean=mean.reshape(shape),
            variance=chan_var.reshape(shape),
            component_mean=mu,
            component_variance=var,
        )

    def component_scores(self) -> np.ndarray:
        """``(n, q)`` scores of the measured spectra in the current basis."""
        self._require()
        return self.basis.project(self._Y)

    def __repr__(self) -> str:
        q = self.basis.n_components if self.basis is not None else None
        return f"SpectralGP(n={self.n}, components={q}, output_shape={self.output_shape})"
