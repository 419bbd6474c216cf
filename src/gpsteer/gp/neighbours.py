"""A GP for large maps: each prediction conditions on the query's nearest data.

Why: the exact GP's ``N x N`` factor is 20 GB at N = 50,000 and every decision reads it.
Near a query point the posterior is set by the nearest measurements; farther ones are
screened off by them (the principle of nearest-neighbour / Vecchia GPs). So
:class:`NeighbourGP` keeps the exact GP's data, kernel, mean, noise and
hyperparameters, and answers each query from its ``neighbours`` nearest data points:
a ``k x k`` solve per query, batched, whatever N is. Telling it a point costs a copy,
not an ``O(N^2)`` factor update.

What it gives up, and where:

- the likelihood (training, the acceptance of a training result) is the exact GP's on
  an evenly spread sample of ``training_size`` points, not on all of them;
- a joint posterior (``full_cov=True``: batches, samples) is the exact GP's on the
  union of the queries' neighbours;
- held-out checks (leave-one-out) run on the same sample as the likelihood.

Neighbours are nearest in the kernel's own metric (unit box divided by its length
scales, when it has ARD length scales), found with a k-d tree that is rebuilt as the
data grow by a quarter and searched together with the newest points.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from scipy.spatial import cKDTree

from gpsteer.errors import ConfigurationError, InputError, NumericalError
from gpsteer.gp.model import ArrayLike, GaussianProcess, Posterior

__all__ = [
    "EXACT_LIMIT",
    "NEIGHBOURS",
    "TRAINING_SIZE",
    "NeighbourGP",
    "model_for_size",
    "supports_neighbours",
]

#: Data points each prediction conditions on. At N = 5000 the map's error was 0.87-1.10x
#: the exact GP's on fields with edges and detail, 1.5x on a smooth one (where the exact
#: GP averages the noise over more points); scoring candidates cost 3-7x more per doubling.
#: See docs/howto/large_maps.md.
NEIGHBOURS = 64
#: Largest data set the agent models with the exact GP (see :func:`model_for_size`).
EXACT_LIMIT = 3000
#: Points of the evenly spread sample the likelihood and held-out checks use.
TRAINING_SIZE = 1024
#: Queries predicted in one batch (bounds the ``(chunk, k, k)`` working arrays).
_CHUNK = 128
#: Relative jitters tried, in turn, on neighbourhood matrices that do not factor.
_JITTERS = (0.0, 1e-8, 1e-6, 1e-4)


def supports_neighbours(gp: GaussianProcess) -> bool:
    """Whether ``gp``'s kernel can be evaluated on batches of neighbourhoods (``vmap``)."""
    if gp.n < 2:
        return False
    U = gp._unit_data()[:2].detach()
    try:
        with torch.no_grad():
            torch.func.vmap(gp.kernel)(U[None], U[None])
    except Exception:  # a kernel written with operations vmap cannot batch
        return False
    return True


def model_for_size(
    gp: GaussianProcess, exact_limit: int | None, adding: int = 0
) -> GaussianProcess:
    """``gp`` itself while it holds (with ``adding`` more) at most ``exact_limit`` points
    (``None``: no limit); beyond that a :class:`NeighbourGP` sharing its data and modules
    (when its kernel allows it). The choice depends on the data size alone, so replay
    makes the same one; switching before a large ``tell`` spares the exact factor of it."""
    if (
        exact_limit is None
        or isinstance(gp, NeighbourGP)
        or gp.n + adding <= exact_limit
        or not supports_neighbours(gp)
    ):
        return gp
    return NeighbourGP.from_model(gp, exact_limit=exact_limit)


def _evenly_spread(n: int, size: int) -> np.ndarray:
    """``min(n, size)`` indices spread evenly over ``0 .. n-1`` (the order data arrived)."""
    if n <= size:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, size).round().astype(np.int64))


class NeighbourGP(GaussianProcess):
    """:class:`~gpsteer.gp.GaussianProcess` whose predictions use each query's nearest data.

    Build it from an exact model with :meth:`from_model` (what the agent does beyond
    ``exact_limit`` points) or like a :class:`~gpsteer.gp.GaussianProcess`.

    Parameters
    ----------
    neighbours
        Data points each prediction conditions on.
    exact_limit
        A subset of at most this many points (training starts, the neighbours of a few
        queries) is modelled exactly.
    training_size
        Points of the evenly spread sample behind the likelihood and held-out checks.
    """

    def __init__(
        self,
        *args: Any,
        neighbours: int = NEIGHBOURS,
        exact_limit: int = EXACT_LIMIT,
        training_size: int = TRAINING_SIZE,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._set_options(neighbours, exact_limit, training_size)

    @classmethod
    def from_model(
        cls,
        gp: GaussianProcess,
        *,
        neighbours: int = NEIGHBOURS,
        exact_limit: int = EXACT_LIMIT,
        training_size: int = TRAINING_SIZE,
    ) -> NeighbourGP:
        """The same data, modules and standardisation as ``gp``, predicting from neighbours."""
        other = cls.__new__(cls)
        other.__dict__.update(gp.__dict__)
        other._cache = None
        other._set_options(neighbours, exact_limit, training_size)
        return other

    def _set_options(self, neighbours: int, exact_limit: int, training_size: int) -> None:
        for name, value in (
            ("neighbours", neighbours),
            ("exact_limit", exact_limit),
            ("training_size", training_size),
        ):
            if not isinstance(value, int) or value < 1:
                raise InputError(f"{name} must be a positive integer; got {value!r}.")
        self.neighbours = neighbours
        self.exact_limit = exact_limit
        self.training_size = min(training_size, exact_limit)
        self._tree: tuple[Any, ...] | None = None  # (cKDTree, points in it, metric scales)

    def set_data(self, X: ArrayLike, y: ArrayLike, noise_variance: ArrayLike | None = None) -> None:
        super().set_data(X, y, noise_variance)
        self._tree = None  # other points: search anew

    def __getstate__(self) -> dict[str, Any]:
        # the search tree is rebuilt on demand: not worth shipping to a Dask worker
        return {**self.__dict__, "_tree": None}

    def _batched_kernel(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """The kernel on a batch of point sets: ``(m, p, d), (m, q, d) -> (m, p, q)``."""
        return torch.func.vmap(self.kernel)(a, b)

    # ------------------------------------------------------------------ neighbours
    def _metric_scales(self) -> np.ndarray:
        """Per-dimension factors of the unit box that make distances the kernel's own."""
        d = self.dim or 1
        for name, hp in self.kernel.named_hyperparameters():
            if name.endswith("lengthscale") and hp.size in (1, d):
                ls = hp.value.detach().cpu().numpy().reshape(-1)
                return np.broadcast_to(1.0 / np.clip(ls, 1e-12, None), (d,)).copy()
        return np.ones(d)

    def _search_tree(self) -> tuple[cKDTree, int, np.ndarray]:
        """A k-d tree over most of the data; rebuilt when the metric changes or the points
        outside it (searched by brute force) exceed a quarter of those in it."""
        scales = self._metric_scales()
        n = self.n
        if self._tree is not None:
            tree, n_tree, old = self._tree
            fresh = n - n_tree <= max(256, n_tree // 4) and n_tree <= n
            if fresh and np.array_equal(old, scales):
                return tree, n_tree, scales
        points = self._unit_data().detach().cpu().numpy() * scales
        self._tree = (cKDTree(points), n, scales)
        return self._tree

    def nearest(self, Xq: ArrayLike, k: int | None = None) -> np.ndarray:
        """``(m, k)`` indices of the data nearest each query (nearest first)."""
        k = min(self.neighbours if k is None else k, self.n)
        Xq_t = self._query_tensor(Xq).detach()
        tree, n_tree, scales = self._search_tree()
        Uq = self._normalize(Xq_t).cpu().numpy() * scales
        k_tree = min(k, n_tree)
        dist, index = tree.query(Uq, k=k_tree)
        dist, index = dist.reshape(len(Uq), k_tree), index.reshape(len(Uq), k_tree)
        if n_tree < self.n:
            newest = self._unit_data()[n_tree:].detach().cpu().numpy() * scales
            d_new = np.sqrt(((Uq[:, None, :] - newest[None, :, :]) ** 2).sum(-1))
            dist = np.concatenate([dist, d_new], axis=1)
            index = np.concatenate([index, np.arange(n_tree, self.n)[None].repeat(len(Uq), 0)], 1)
            order = np.argsort(dist, axis=1, kind="stable")[:, :k]
            index = np.take_along_axis(index, order, axis=1)
        return index

    # ------------------------------------------------------------------ inference
    def _factor(self) -> tuple[torch.Tensor, torch.Tensor]:
        raise ConfigurationError(
            f"NeighbourGP holds {self.n} points and has no global factor; this operation "
            "needs the exact GaussianProcess (use .subset() or the agent's exact_limit)."
        )

    def _local_posterior(
        self, Xq_t: torch.Tensor, index: np.ndarray, want_variance: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Mean and variance at ``Xq_t`` from the data rows ``index`` ``(m, k)``."""
        idx = torch.as_tensor(index, dtype=torch.long, device=self.device)
        data = self._unit_data()
        Xb = data[idx]  # (m, k, d)
        rb = self._residual()[idx]
        noise = self._noise_diag()[idx]
        K = self._batched_kernel(Xb, Xb) + torch.diag_embed(noise)
        L = _batched_cholesky(K)
        Uq = self._normalize(Xq_t)
        kq = self._batched_kernel(Uq[:, None, :], Xb)  # (m, 1, k)
        v = torch.linalg.solve_triangular(L, kq.transpose(1, 2), upper=False)  # (m, k, 1)
        w = torch.linalg.solve_triangular(L, rb.unsqueeze(-1), upper=False)
        s = self._y_scale
        mean = self.mean(Xq_t) + s * (v * w).sum((1, 2))
        if not want_variance:
            return mean, None
        var = (self.kernel.diag(Uq) - (v * v).sum((1, 2))).clamp_min(0.0) * s**2
        return mean, var

    def _predict_chunks(
        self, Xq: ArrayLike, want_variance: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        self._require_data()
        Xq_t = self._query_tensor(Xq)
        means, variances = [], []
        for start in range(0, Xq_t.shape[0], _CHUNK):
            part = Xq_t[start : start + _CHUNK]
            mean, var = self._local_posterior(part, self.nearest(part), want_variance)
            means.append(mean)
            variances.append(var)
        if not means:
            empty = Xq_t.new_zeros(0)
            return empty, empty if want_variance else None
        variance = torch.cat(variances) if want_variance else None
        return torch.cat(means), variance

    def posterior_mean(self, Xq: ArrayLike) -> torch.Tensor:
        """Posterior mean at ``Xq`` from each query's neighbours; differentiable."""
        return self._predict_chunks(Xq, want_variance=False)[0]

    def posterior(
        self, Xq: ArrayLike, *, full_cov: bool = False, include_noise: bool = False
    ) -> Posterior:
        """Posterior at ``Xq`` from each query's neighbours (``full_cov``: the exact GP's
        on the union of the neighbours); differentiable with respect to ``Xq``."""
        if full_cov:
            return self.near(Xq).posterior(Xq, full_cov=True, include_noise=include_noise)
        mean, var = self._predict_chunks(Xq, want_variance=True)
        if include_noise:
            var = var + self._learned_noise() * self._y_scale**2
        return Posterior(mean=mean, variance=var)

    def near(self, Xq: ArrayLike, neighbours: int | None = None) -> GaussianProcess:
        """The exact model on the union of the data nearest each row of ``Xq``."""
        index = np.unique(self.nearest(Xq, neighbours))
        if index.size > self.exact_limit:
            raise ConfigurationError(
                f"the {len(index)} neighbours of these {len(np.atleast_2d(Xq))} points are "
                f"more than an exact model holds here ({self.exact_limit}); ask for a joint "
                "posterior (full_cov, sample) of fewer points at a time."
            )
        return self.subset(index)

    def sample_index(self) -> np.ndarray:
        """The points behind the likelihood and held-out checks: ``training_size`` of them,
        spread evenly over the order they arrived in (a function of the data size only)."""
        return _evenly_spread(self.n, self.training_size)

    def log_marginal_likelihood(self, *, include_prior: bool = False) -> torch.Tensor:
        """The exact GP's log marginal likelihood on :meth:`sample_index`, scaled to all
        the data (so values compare across sizes like the exact GP's)."""
        self._require_data()
        sample = self.sample_index()
        value = self.subset(sample).log_marginal_likelihood(include_prior=False)
        value = value * (self.n / sample.size)
        if include_prior:
            for _, hp in self.named_hyperparameters():
                if hp.prior is not None and not hp.fixed:
                    value = value + hp.prior.log_prob(hp.value)
        return value

    def leave_one_out_residuals(self, at: ArrayLike | None = None) -> torch.Tensor:
        """Residuals of the points ``at`` (default :meth:`sample_index`) each predicted from
        its nearest *other* data, in units of the output scale; no gradient."""
        self._require_data()
        at = self.sample_index() if at is None else np.asarray(at, dtype=np.int64)
        with torch.no_grad():
            X = self._X[torch.as_tensor(at, device=self.device)]
            near = self.nearest(X, self.neighbours + 1)
            others = np.empty((len(at), near.shape[1] - 1), dtype=np.int64)
            for row, (point, candidates) in enumerate(zip(at, near, strict=True)):
                kept = candidates[candidates != point]
                others[row] = kept[: others.shape[1]]
            out = []
            for start in range(0, len(at), _CHUNK):
                part = slice(start, start + _CHUNK)
                mean, _ = self._local_posterior(X[part], others[part], want_variance=False)
                out.append((self._y[torch.as_tensor(at[part])] - mean) / self._y_scale)
        return torch.cat(out) if out else X.new_zeros(0)

    # ------------------------------------------------------------------ derived models
    def condition_on(
        self,
        X: ArrayLike,
        y: ArrayLike | None = None,
        noise_variance: ArrayLike | None = None,
    ) -> NeighbourGP:
        """A copy that also knows ``(X, y)`` (``y=None``: the posterior mean), sharing
        hyperparameters and standardisation."""
        if y is None:
            y = self.predict(X).mean
        if noise_variance is None and self._noise_var is not None:
            noise_variance = np.zeros(np.shape(y)[0])
        other = copy.copy(self)
        other._append(X, y, noise_variance, restandardize=False)
        return other

    def subset(self, index: ArrayLike, *, y_scale: float | None = None) -> GaussianProcess:
        """A model on some of the data: the exact GP up to ``exact_limit`` points."""
        other = super().subset(index, y_scale=y_scale)
        if other.n <= self.exact_limit:
            exact = GaussianProcess.__new__(GaussianProcess)
            exact.__dict__.update(
                {k: v for k, v in other.__dict__.items() if k not in _OWN_ATTRIBUTES}
            )
            return exact
        other._tree = None
        return other

    def __repr__(self) -> str:
        return (
            f"NeighbourGP(n={self.n}, dim={self.dim}, neighbours={self.neighbours}, "
            f"kernel={self.kernel!r})"
        )


#: What a NeighbourGP holds beyond a GaussianProcess.
_OWN_ATTRIBUTES = frozenset({"neighbours", "exact_limit", "training_size", "_tree"})


def _batched_cholesky(K: torch.Tensor) -> torch.Tensor:
    """Factors of a batch of SPD matrices, with escalating relative jitter where needed."""
    scale = K.diagonal(dim1=-2, dim2=-1).mean(-1).abs().clamp_min(1e-300)[:, None, None]
    eye = torch.eye(K.shape[-1], dtype=K.dtype, device=K.device)
    for jitter in _JITTERS:
        L, info = torch.linalg.cholesky_ex(K + (jitter * scale) * eye if jitter else K)
        if int(info.max()) == 0 and bool(torch.isfinite(L).all()):
            return L
    raise NumericalError(
        f"{int((info > 0).sum())} neighbourhood matrices of {K.shape[0]} are not positive "
        f"definite even with jitter {_JITTERS[-1]:g} x their mean diagonal; check the "
        "kernel's hyperparameters are finite, or allow noise."
    )
