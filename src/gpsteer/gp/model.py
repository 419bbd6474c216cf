"""Exact Gaussian-process regression in torch, with an incrementally updated Cholesky factor.

Inputs are mapped to the unit box and outputs divided by their standard deviation
internally, so default hyperparameter ranges suit any units; everything a caller
sees (posterior, data) is in the caller's units.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from gpsteer.errors import (
    ConfigurationError,
    InputError,
    NotFittedError,
    ShapeError,
    UnknownNameError,
)
from gpsteer.gp.hyperparameters import Hyperparameter
from gpsteer.gp.kernels import Kernel, make_kernel
from gpsteer.gp.linalg import append_cholesky, gaussian_log_density, robust_cholesky
from gpsteer.gp.means import Mean, make_mean
from gpsteer.gp.noise import NoiseModel, default_noise

if TYPE_CHECKING:
    from gpsteer.gp.fit import FitResult

__all__ = ["GaussianProcess", "Posterior"]

ArrayLike = np.ndarray | torch.Tensor | Sequence[Any]


@dataclass(frozen=True)
class Posterior:
    """Posterior of the latent field at query points, in user units.

    ``mean`` and ``variance`` have shape ``(m,)``; ``covariance`` is ``(m, m)`` when it
    was asked for. Tensors from :meth:`GaussianProcess.posterior`, numpy arrays from
    :meth:`GaussianProcess.predict`.
    """

    mean: Any
    variance: Any
    covariance: Any = None

    @property
    def std(self) -> Any:
        return self.variance**0.5


def _as_tensor(a: ArrayLike, name: str, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    try:
        t = torch.as_tensor(np.asarray(a) if not torch.is_tensor(a) else a)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be numeric array-like; got {type(a).__name__}.") from exc
    if not (t.dtype.is_floating_point or t.dtype in (torch.int32, torch.int64, torch.bool)):
        raise InputError(f"{name} must be numeric; got dtype {t.dtype}.")
    return t.to(dtype=dtype, device=device)


def _output_scale(y: torch.Tensor) -> float:
    """Standard deviation of ``y``; for (numerically) constant data, ``max(|y|, 1)``."""
    size = float(y.abs().max()) if y.numel() else 0.0
    std = float(y.std()) if y.numel() > 1 else 0.0
    if math.isfinite(std) and std > 1e-9 * max(size, 1e-300):
        return std
    return max(size, 1.0)


class GaussianProcess:
    """A GP regression model: data, kernel, prior mean, noise model, posterior.

    Parameters
    ----------
    kernel
        A :class:`~gpsteer.gp.kernels.Kernel` or a name (``"matern52"`` default, with ARD
        length scales and a trainable output scale).
    mean
        A :class:`~gpsteer.gp.means.Mean` or ``"constant"`` (default) / ``"zero"``.
    noise
        A :class:`~gpsteer.gp.noise.NoiseModel`; default: learned homoscedastic noise, or
        measured variances plus a learned floor when data come with ``noise_variance``.
    input_bounds
        ``[(lo, hi), ...]`` per input dimension, mapped to the unit box. Default: the range
        of the first data set.
    device, dtype
        Where and in what precision to compute (float64 unless you know better).
    """

    def __init__(
        self,
        kernel: Kernel | str = "matern52",
        mean: Mean | str = "constant",
        noise: NoiseModel | None = None,
        input_bounds: Sequence[tuple[float, float]] | None = None,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        self.kernel = make_kernel(kernel) if isinstance(kernel, str) else kernel
        self.mean = make_mean(mean) if isinstance(mean, str) else mean
        if not isinstance(self.kernel, Kernel):
            raise InputError(f"kernel must be a Kernel or a name; got {type(kernel).__name__}.")
        if not isinstance(self.mean, Mean):
            raise InputError(f"mean must be a Mean or a name; got {type(mean).__name__}.")
        if noise is not None and not isinstance(noise, NoiseModel):
            raise InputError(f"noise must be a NoiseModel; got {type(noise).__name__}.")
        self.noise: NoiseModel | None = noise
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.dtype = dtype
        self._input_bounds = self._check_bounds(input_bounds) if input_bounds is not None else None
        self._X = torch.empty(0, 0, dtype=dtype, device=self.device)  # user units
        self._y = torch.empty(0, dtype=dtype, device=self.device)
        self._noise_var: torch.Tensor | None = None  # user units, per point
        self._y_scale = 1.0
        self._standardized_at: tuple[int, ...] = ()  # data sizes of each standardisation
        self._cache: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None  # key, L, alpha
        self._unit_cache: tuple[Any, ...] | None = None  # data, bounds, data in the unit box

    # ------------------------------------------------------------------ validation
    def _check_bounds(self, bounds: Sequence[tuple[float, float]]) -> torch.Tensor:
        b = _as_tensor(bounds, "input_bounds", self.dtype, self.device)
        if b.ndim != 2 or b.shape[1] != 2 or b.shape[0] == 0:
            raise ShapeError(
                f"input_bounds must be a list of (lo, hi) pairs, one per dimension; got shape "
                f"{tuple(b.shape)}."
            )
        if not torch.isfinite(b).all():
            raise InputError(f"input_bounds must be finite; got {b.tolist()}.")
        bad = [i for i in range(b.shape[0]) if not b[i, 0] < b[i, 1]]
        if bad:
            raise InputError(
                f"input_bounds need lo < hi in every dimension; dimension(s) {bad} have "
                f"{[b[i].tolist() for i in bad]}."
            )
        return b

    def _check_data(
        self, X: ArrayLike, y: ArrayLike, noise_variance: ArrayLike | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        Xt = _as_tensor(X, "X", self.dtype, self.device)
        yt = _as_tensor(y, "y", self.dtype, self.device).reshape(-1)
        if Xt.ndim == 1 and self.dim in (None, 1):
            Xt = Xt.reshape(-1, 1)
        if Xt.ndim != 2:
            raise ShapeError(f"X must have shape (n, d); got {tuple(Xt.shape)}.")
        if self.dim is not None and Xt.shape[1] != self.dim:
            raise ShapeError(f"X has {Xt.shape[1]} column(s); this model has {self.dim} input(s).")
        if Xt.shape[0] != yt.shape[0]:
            raise ShapeError(f"X has {Xt.shape[0]} row(s) but y has {yt.shape[0]} value(s).")
        if Xt.shape[0] == 0:
            raise InputError("X and y hold no measurements; pass at least one (x, y) pair.")
        for name, t in (("X", Xt), ("y", yt)):
            if not torch.isfinite(t).all():
                raise InputError(f"{name} contains NaN or inf; remove those measurements first.")
        nv = None
        if noise_variance is not None:
            nv = _as_tensor(noise_variance, "noise_variance", self.dtype, self.device).reshape(-1)
            if nv.numel() == 1 and yt.numel() != 1:
                nv = nv.expand(yt.shape[0]).clone()
            if nv.shape != yt.shape:
                raise ShapeError(
                    f"noise_variance has {nv.numel()} value(s) for {yt.numel()} measurement(s)."
                )
            if not torch.isfinite(nv).all() or (nv < 0).any():
                raise InputError("noise_variance must be finite and >= 0 for every point.")
        return Xt, yt, nv

    # ------------------------------------------------------------------ data
    @property
    def dim(self) -> int | None:
        if self._input_bounds is not None:
            return int(self._input_bounds.shape[0])
        return int(self._X.shape[1]) if self._X.shape[0] else None

    @property
    def n(self) -> int:
        return int(self._y.shape[0])

    @property
    def X(self) -> np.ndarray:
        return self._X.detach().cpu().numpy().copy()

    @property
    def y(self) -> np.ndarray:
        return self._y.detach().cpu().numpy().copy()

    @property
    def noise_variance(self) -> np.ndarray | None:
        return None if self._noise_var is None else self._noise_var.detach().cpu().numpy().copy()

    @property
    def input_bounds(self) -> np.ndarray | None:
        return None if self._input_bounds is None else self._input_bounds.cpu().numpy().copy()

    @property
    def y_scale(self) -> float:
        """Output standardisation factor: kernel and noise work in units of this."""
        return self._y_scale

    @property
    def standardized_at(self) -> tuple[int, ...]:
        """The data sizes at which the outputs were standardised and the modules bound.

        :meth:`set_data` starts it; a re-standardisation (by :meth:`append` or
        :meth:`restandardize`) extends it. :meth:`set_data_in_steps` repeats these steps,
        so a restored model has exactly the scaling and bindings of the original.
        """
        return self._standardized_at

    def set_data(self, X: ArrayLike, y: ArrayLike, noise_variance: ArrayLike | None = None) -> None:
        """Replace the data; recompute the output scale; the factor is rebuilt on demand."""
        self._standardize(X, y, noise_variance)
        self._standardized_at = (self.n,)

    def restandardize(self) -> None:
        """Standardise the outputs anew on all the data held (and rebind the modules)."""
        self._require_data()
        self._standardize(self._X, self._y, self._noise_var)
        self._standardized_at = (*self._standardized_at, self.n)

    def set_data_in_steps(
        self,
        X: ArrayLike,
        y: ArrayLike,
        noise_variance: ArrayLike | None,
        standardized_at: Sequence[int],
        *,
        restandardize_rest: bool = False,
    ) -> None:
        """Give the data as a model was given it: standardised at each size in
        ``standardized_at`` (see :attr:`standardized_at`), the rest appended.

        ``restandardize_rest`` lets the final append re-standardise as :meth:`append`
        does (how states that recorded only two steps were rebuilt).
        """
        Xt, yt, nv = self._check_data(X, y, noise_variance)
        steps = [int(k) for k in standardized_at]
        if not steps or steps[0] < 1 or steps[-1] > yt.shape[0] or steps != sorted(steps):
            raise InputError(
                f"standardized_at must be increasing data sizes in 1..{yt.shape[0]}; got {steps}."
            )

        def first(k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
            return Xt[:k], yt[:k], None if nv is None else nv[:k]

        self.set_data(*first(steps[0]))
        for k in steps[1:]:
            self._standardize(*first(k))
            self._standardized_at = (*self._standardized_at, k)
        if steps[-1] < yt.shape[0]:
            rest = slice(steps[-1], None)
            self._append(
                Xt[rest],
                yt[rest],
                None if nv is None else nv[rest],
                restandardize=restandardize_rest,
            )

    def _standardize(self, X: ArrayLike, y: ArrayLike, noise_variance: ArrayLike | None) -> None:
        Xt, yt, nv = self._check_data(X, y, noise_variance)
        if self._input_bounds is None:
            lo, hi = Xt.min(0).values, Xt.max(0).values
            hi = torch.where(hi > lo, hi, lo + 1.0)
            self._input_bounds = torch.stack([lo, hi], dim=1)
        self._X, self._y, self._noise_var = Xt, yt, nv
        self._y_scale = _output_scale(yt)
        self._bind()
        self._cache = None

    def append(self, X: ArrayLike, y: ArrayLike, noise_variance: ArrayLike | None = None) -> None:
        """Add measurements; updates the Cholesky factor in O(N^2) instead of refactoring.

        When the new data change the spread of the outputs by more than a factor of 2
        (typically while a model grows from its first few points), the outputs are
        re-standardised and the factor rebuilt, so a model fed one point at a time ends
        up like one given all its data at once.
        """
        self._append(X, y, noise_variance, restandardize=True)

    def _append(
        self,
        X: ArrayLike,
        y: ArrayLike,
        noise_variance: ArrayLike | None,
        *,
        restandardize: bool,
    ) -> None:
        if self.n == 0:
            self.set_data(X, y, noise_variance)
            return
        Xt, yt, nv = self._check_data(X, y, noise_variance)
        if (nv is None) != (self._noise_var is None):
            raise ConfigurationError(
                "Either every measurement comes with noise_variance or none does; this batch "
                + ("has none." if nv is None else "has some but earlier data had none.")
            )
        if restandardize:
            y_all = torch.cat([self._y, yt])
            if not 0.5 <= _output_scale(y_all) / self._y_scale <= 2.0:
                nv_all = None if nv is None else torch.cat([self._noise_var, nv])
                self._standardize(torch.cat([self._X, Xt]), y_all, nv_all)
                self._standardized_at = (*self._standardized_at, self.n)
                return
        cache = self._valid_cache()
        n_old = self.n
        self._X = torch.cat([self._X, Xt])
        self._y = torch.cat([self._y, yt])
        if nv is not None:
            self._noise_var = torch.cat([self._noise_var, nv])
        self._cache = None
        if cache is not None:
            with torch.no_grad():
                Xn = self._normalize(self._X)
                K12 = self.kernel(Xn[:n_old], Xn[n_old:])
                K22 = self.kernel(Xn[n_old:]) + torch.diag(self._noise_diag()[n_old:])
                L = append_cholesky(cache[1], K12, K22)
                self._cache = (self._theta_key(), L, self._solve_alpha(L))

    def refactor(self) -> None:
        """Drop the cached factor; the next posterior refactors from scratch."""
        self._cache = None

    def _bind(self) -> None:
        Xn = self._normalize(self._X)
        r = self._y / self._y_scale
        if self.noise is None:
            self.noise = default_noise(self._noise_var is not None)
        for module in (self.kernel, self.noise):
            module.bind(Xn, r)
            module.to(self.device, self.dtype)
        self.mean.bind(self._X, self._y)
        self.mean.to(self.device, self.dtype)

    def _unit_data(self) -> torch.Tensor:
        """The data in unit-box coordinates, the same tensor until the data change (so a
        kernel can keep what it derives from the data between queries)."""
        key = (self._X, self._input_bounds)
        if (
            self._unit_cache is None
            or self._unit_cache[0] is not key[0]
            or (self._unit_cache[1] is not key[1])
        ):
            self._unit_cache = (*key, self._normalize(self._X))
        return self._unit_cache[2]

    def _normalize(self, X: torch.Tensor) -> torch.Tensor:
        lo, hi = self._input_bounds[:, 0], self._input_bounds[:, 1]
        return (X - lo) / (hi - lo)

    def _noise_diag(self) -> torch.Tensor:
        measured = None if self._noise_var is None else self._noise_var / self._y_scale**2
        return self.noise.diagonal(measured, self.n, self._X)

    # ------------------------------------------------------------------ hyperparameters
    def named_hyperparameters(self) -> Iterator[tuple[str, Hyperparameter]]:
        """Every hyperparameter by dotted name: ``("kernel.base.lengthscale", hp)``, ..."""
        self._require_data()
        yield from self.kernel.named_hyperparameters("kernel.")
        yield from self.mean.named_hyperparameters("mean.")
        yield from self.noise.named_hyperparameters("noise.")

    def hyperparameters(self) -> dict[str, list[float]]:
        """Current values by name (JSON-able). Kernel and noise are in standardised units."""
        return {
            n: hp.value.detach().cpu().reshape(-1).tolist()
            for n, hp in self.named_hyperparameters()
        }

    def set_hyperparameters(self, values: Mapping[str, float | Sequence[float]]) -> None:
        """Set values by name; unknown names and wrong lengths raise."""
        table = dict(self.named_hyperparameters())
        unknown = sorted(set(values) - set(table))
        if unknown:
            raise UnknownNameError(f"Unknown hyperparameter(s) {unknown}; known: {sorted(table)}.")
        for name, v in values.items():
            table[name].set_value(v)

    def _trainable(self) -> list[Hyperparameter]:
        return [hp for _, hp in self.named_hyperparameters() if not hp.fixed]

    @property
    def theta(self) -> torch.Tensor:
        """Trainable hyperparameters, unconstrained, flattened (what optimizers move)."""
        hps = self._trainable()
        if not hps:
            return torch.empty(0, dtype=self.dtype, device=self.device)
        return torch.cat([hp.raw.detach().reshape(-1) for hp in hps])

    def theta_bounds(self, *, start: bool = False) -> np.ndarray:
        """``(p, 2)`` box bounds on :attr:`theta`; ``start=True``: the range of typical starts."""
        rows = []
        for hp in self._trainable():
            lo, hi = hp.raw_start_bounds if start else hp.raw_bounds
            rows += [(lo, hi)] * hp.size
        return np.array(rows, dtype=float).reshape(-1, 2)

    def theta_names(self) -> list[str]:
        return [
            f"{n}[{i}]" if hp.size > 1 else n
            for n, hp in self.named_hyperparameters()
            if not hp.fixed
            for i in range(hp.size)
        ]

    def set_theta(self, theta: torch.Tensor | np.ndarray) -> None:
        """Set the trainable hyperparameters from a flat vector (kept differentiable)."""
        theta = (
            _as_tensor(theta, "theta", self.dtype, self.device)
            if not torch.is_tensor(theta)
            else theta
        )
        hps = self._trainable()
        size = sum(hp.size for hp in hps)
        if theta.shape != (size,):
            raise ShapeError(
                f"theta must have {size} value(s) ({self.theta_names()}); got {tuple(theta.shape)}."
            )
        i = 0
        for hp in hps:
            hp.raw = theta[i : i + hp.size]
            i += hp.size

    def _theta_key(self) -> torch.Tensor:
        return torch.cat(
            [hp.raw.detach().reshape(-1) for _, hp in self.named_hyperparameters()]
            + [torch.tensor([self._y_scale], dtype=self.dtype, device=self.device)]
        )

    # ------------------------------------------------------------------ inference
    def _require_data(self) -> None:
        if self.n == 0:
            raise NotFittedError("The GP has no data yet; call set_data(X, y) first.")

    def _residual(self) -> torch.Tensor:
        return (self._y - self.mean(self._X)) / self._y_scale

    def _solve_alpha(self, L: torch.Tensor) -> torch.Tensor:
        return torch.cholesky_solve(self._residual().unsqueeze(-1), L).squeeze(-1)

    def _valid_cache(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
        if self._cache is None:
            return None
        key = self._theta_key()
        old = self._cache[0]
        if old.shape == key.shape and torch.equal(old, key):
            return self._cache
        return None

    def _factor(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(L, alpha)`` for the current data and hyperparameters, cached."""
        self._require_data()
        cache = self._valid_cache()
        if cache is None:
            with torch.no_grad():
                Xn = self._normalize(self._X)
                K = self.kernel(Xn) + torch.diag(self._noise_diag())
                L = robust_cholesky(K)
                cache = (self._theta_key(), L, self._solve_alpha(L))
            self._cache = cache
        return cache[1], cache[2]

    def leave_one_out_residuals(self, at: ArrayLike | None = None) -> torch.Tensor:
        """Residuals of the points ``at`` (default: all) each predicted from all the others,
        in units of the output scale (closed form: ``[K^-1 r]_i / [K^-1]_ii``); no gradient.

        Why: the likelihood alone can prefer a model that explains structured data as
        noise; its leave-one-out error shows that it predicts nothing.
        """
        L, alpha = self._factor()
        with torch.no_grad():
            residuals = alpha / torch.diagonal(torch.cholesky_inverse(L))
        if at is None:
            return residuals
        return residuals[torch.as_tensor(np.asarray(at, dtype=np.int64), device=self.device)]

    def sample_index(self) -> np.ndarray:
        """The points behind the likelihood and held-out checks: all of them (a large-N
        model, :class:`~gpsteer.gp.neighbours.NeighbourGP`, uses a sample)."""
        return np.arange(self.n)

    def log_marginal_likelihood(self, *, include_prior: bool = False) -> torch.Tensor:
        """log p(y | X, hyperparameters) in user units; differentiable in the hyperparameters.

        ``include_prior`` adds the log density of hyperparameter priors (what training maximises).
        """
        self._require_data()
        K = self.kernel(self._normalize(self._X)) + torch.diag(self._noise_diag())
        lml = gaussian_log_density(K, self._residual()) - self.n * math.log(self._y_scale)
        if include_prior:
            for _, hp in self.named_hyperparameters():
                if hp.prior is not None and not hp.fixed:
                    lml = lml + hp.prior.log_prob(hp.value)
        return lml

    def posterior_mean(self, Xq: ArrayLike) -> torch.Tensor:
        """Posterior mean at ``Xq`` ``(m, d)`` (a tensor of the model's dtype), differentiable.

        Why beside :meth:`posterior`: the mean needs ``k(Xq, X) @ alpha`` only; the
        variance's triangular solve costs ``N^2 m`` more (2 s for a 96 x 96 structure grid
        at N = 1000). Same operations as :meth:`posterior`'s mean, so the same numbers.
        """
        _, alpha = self._factor()
        Xq_t = self._query_tensor(Xq)
        return self._mean_at(Xq_t, self._cross_covariance(Xq_t), alpha)

    def _query_tensor(self, Xq: ArrayLike) -> torch.Tensor:
        """``Xq`` as a checked ``(m, d)`` tensor of the model's dtype (kept if it is one)."""
        Xq_t = Xq if torch.is_tensor(Xq) and Xq.dtype == self.dtype else None
        if Xq_t is None:
            Xq_t = _as_tensor(Xq, "Xq", self.dtype, self.device)
        if Xq_t.ndim == 1 and self.dim == 1:
            Xq_t = Xq_t.reshape(-1, 1)
        if Xq_t.ndim != 2 or Xq_t.shape[1] != self.dim:
            raise ShapeError(
                f"Query points must have shape (m, {self.dim}); got {tuple(Xq_t.shape)}."
            )
        if not torch.isfinite(Xq_t.detach()).all():
            raise InputError("Query points contain NaN or inf.")
        return Xq_t

    def _cross_covariance(self, Xq_t: torch.Tensor) -> torch.Tensor:
        return self.kernel(self._normalize(Xq_t), self._unit_data())

    def _mean_at(self, Xq_t: torch.Tensor, Kqx: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        return self.mean(Xq_t) + self._y_scale * (Kqx @ alpha)

    def posterior(
        self, Xq: ArrayLike, *, full_cov: bool = False, include_noise: bool = False
    ) -> Posterior:
        """Posterior at ``Xq`` ``(m, d)`` as tensors; differentiable with respect to ``Xq``.

        ``include_noise`` adds the learned noise (homoscedastic variance or floor): the
        predictive distribution of a new measurement rather than of the field.
        """
        L, alpha = self._factor()
        Xq_t = self._query_tensor(Xq)
        Xn_q = self._normalize(Xq_t)
        Kqx = self._cross_covariance(Xq_t)
        s = self._y_scale
        mean = self._mean_at(Xq_t, Kqx, alpha)
        V = torch.linalg.solve_triangular(L, Kqx.T, upper=False)
        if full_cov:
            cov = self.kernel(Xn_q) - V.T @ V
            cov = 0.5 * (cov + cov.T) * s**2
            var = cov.diagonal().clamp_min(0.0)
        else:
            cov = None
            var = (self.kernel.diag(Xn_q) - (V * V).sum(0)).clamp_min(0.0) * s**2
        if include_noise:
            extra = self._learned_noise() * s**2
            var = var + extra
            if cov is not None:
                cov = cov + extra * torch.eye(cov.shape[0], dtype=self.dtype, device=self.device)
        return Posterior(mean=mean, variance=var, covariance=cov)

    def _learned_noise(self) -> torch.Tensor:
        for name in ("variance", "floor"):
            if name in self.noise._hyperparameters:
                return self.noise._value(name)[0]
        return torch.zeros((), dtype=self.dtype, device=self.device)

    def predict(
        self, Xq: ArrayLike, *, full_cov: bool = False, include_noise: bool = False
    ) -> Posterior:
        """Like :meth:`posterior` but with numpy arrays (no gradients)."""
        with torch.no_grad():
            post = self.posterior(Xq, full_cov=full_cov, include_noise=include_noise)
        return Posterior(
            mean=post.mean.cpu().numpy(),
            variance=post.variance.cpu().numpy(),
            covariance=None if post.covariance is None else post.covariance.cpu().numpy(),
        )

    def sample(self, Xq: ArrayLike, n_samples: int = 1, *, seed: int | None = None) -> np.ndarray:
        """``(n_samples, m)`` draws of the field at ``Xq`` from the joint posterior."""
        if n_samples < 1:
            raise InputError(f"n_samples must be >= 1; got {n_samples}.")
        with torch.no_grad():
            post = self.posterior(Xq, full_cov=True)
            Lq = robust_cholesky(post.covariance, warn=False)
            gen = torch.Generator(device=self.device)
            if seed is None:
                # Fresh entropy for this generator only: torch.seed() would reseed the
                # global generator and undo the caller's torch.manual_seed().
                gen.seed()
            else:
                gen.manual_seed(seed)
            z = torch.randn(
                Lq.shape[0], n_samples, generator=gen, dtype=self.dtype, device=self.device
            )
            draws = post.mean.unsqueeze(-1) + Lq @ z
        return draws.T.cpu().numpy()

    # ------------------------------------------------------------------ derived models
    def condition_on(
        self,
        X: ArrayLike,
        y: ArrayLike | None = None,
        noise_variance: ArrayLike | None = None,
    ) -> GaussianProcess:
        """A copy that also knows ``(X, y)``, sharing hyperparameters (fantasy models).

        With ``y=None`` the posterior mean is used: the variance of the result is exact,
        which is all a variance-based batch needs.
        """
        self._factor()
        if y is None:
            y = self.predict(X).mean
        if noise_variance is None and self._noise_var is not None:
            noise_variance = np.zeros(np.shape(y)[0])
        other = copy.copy(self)
        other._cache = self._cache
        # Fantasies share this model's hyperparameters, so they keep its standardisation.
        other._append(X, y, noise_variance, restandardize=False)
        return other

    def subset(self, index: ArrayLike, *, y_scale: float | None = None) -> GaussianProcess:
        """A model on some of the data, sharing modules and scaling (for cheap training).

        ``y_scale`` replaces the output scale (to rebuild a model as it was at a smaller size).
        """
        idx = torch.as_tensor(np.asarray(index), dtype=torch.long, device=self.device)
        other = copy.copy(self)
        if y_scale is not None:
            other._y_scale = float(y_scale)
        other._X, other._y = self._X[idx], self._y[idx]
        other._noise_var = None if self._noise_var is None else self._noise_var[idx]
        other._cache = None
        return other

    def fit(self, **options: Any) -> FitResult:
        """Train hyperparameters in place; see :func:`gpsteer.gp.fit.fit_hyperparameters`."""
        from gpsteer.gp.fit import fit_hyperparameters

        return fit_hyperparameters(self, **options)

    def __repr__(self) -> str:
        return (
            f"GaussianProcess(n={self.n}, dim={self.dim}, kernel={self.kernel!r}, "
            f"mean={type(self.mean).__name__}, noise={type(self.noise).__name__})"
        )
