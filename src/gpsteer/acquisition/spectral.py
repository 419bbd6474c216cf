"""Scores for choosing where to measure the next spectrum, from a :class:`SpectralGP`.

Plain functions of a :class:`~gpsteer.gp.multioutput.SpectralGP` and candidate points
(the spectral model is not yet behind the :class:`~gpsteer.agent.Agent`):

- :func:`total_variance`: predicted variance summed over channels (= summed over
  components, the basis being orthonormal): maps the whole spectral cube evenly.
- :func:`region_discovery`: in the spirit of k-means-driven ARPES acquisition
  (Melton et al., 2020): cluster the measured spectra, ask the model how likely each
  candidate is to belong to each cluster, and score where the class is uncertain,
  weighting rare clusters up so that small regions are not drowned by large ones.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.cluster.vq import kmeans2

from gpsteer.errors import InputError
from gpsteer.gp.multioutput.spectral import SpectralGP

__all__ = ["RegionScores", "cluster_spectra", "region_discovery", "total_variance"]


def total_variance(model: SpectralGP, Xq: Any, *, include_truncation: bool = False) -> np.ndarray:
    """``(m,)`` predicted variance of the whole spectrum at each candidate."""
    with torch.no_grad():
        _, var = model.posterior_components(Xq)
    out = var.sum(dim=1).cpu().numpy()
    if include_truncation:
        out = out + float(model.truncation_variance.sum())
    return out


def cluster_spectra(
    model: SpectralGP, n_clusters: int, *, seed: int = 0, n_init: int = 5
) -> tuple[np.ndarray, np.ndarray]:
    """k-means on the component scores of the measured spectra (best of ``n_init`` runs).

    Returns ``(centroids (K, q), labels (n,))``, clusters ordered by first appearance in the
    data; empty clusters are dropped, so ``K`` may be below ``n_clusters``. Distances
    between scores are distances between the (reconstructed) spectra.
    """
    Z = model.component_scores()
    if not 1 <= n_clusters <= Z.shape[0]:
        raise InputError(f"n_clusters must be in 1..{Z.shape[0]} (the spectra); got {n_clusters}.")
    if n_init < 1:
        raise InputError(f"n_init must be >= 1; got {n_init}.")
    best = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "one of the clusters is empty": handled below
        for run in range(n_init):
            centroids, labels = kmeans2(Z, n_clusters, iter=50, minit="++", seed=seed + run)
            inertia = float(((Z - centroids[labels]) ** 2).sum())
            if best is None or inertia < best[0]:
                best = (inertia, centroids, labels)
    _, centroids, labels = best
    order = list(dict.fromkeys(labels.tolist()))  # used clusters, by first appearance
    remap = np.full(centroids.shape[0], -1)
    remap[order] = np.arange(len(order))
    return centroids[order], remap[labels]


@dataclass(frozen=True)
class RegionScores:
    """Output of :func:`region_discovery`.

    ``score`` ``(m,)``: higher where the class is uncertain (boundaries, unexplored
    places), weighted towards rare classes. ``probabilities`` ``(m, K)``: posterior
    class probabilities. ``labels`` ``(n,)``: cluster of each measured spectrum;
    ``centroids`` ``(K, q)``; ``cluster_sizes`` ``(K,)``.
    """

    score: np.ndarray
    probabilities: np.ndarray
    labels: np.ndarray
    centroids: np.ndarray
    cluster_sizes: np.ndarray

    @property
    def predicted_class(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)


def region_discovery(
    model: SpectralGP,
    Xq: Any,
    n_clusters: int,
    *,
    n_samples: int = 64,
    rarity_power: float = 0.5,
    seed: int = 0,
) -> RegionScores:
    """Score candidates ``Xq`` ``(m, d)`` for finding region boundaries and small regions.

    Class probabilities come from ``n_samples`` draws of the component scores from their
    (marginal) posterior, each assigned to its nearest centroid; the same normal draws
    are used at every candidate, so scores are smooth in ``Xq`` and reproducible.
    ``score = sum_c w_c p_c (1 - p_c)`` with ``w_c = (n / (K n_c))^rarity_power``.
    """
    if n_samples < 1 or rarity_power < 0:
        raise InputError("n_samples must be >= 1 and rarity_power >= 0.")
    centroids, labels = cluster_spectra(model, n_clusters, seed=seed)
    K = centroids.shape[0]
    with torch.no_grad():
        mu, var = model.posterior_components(Xq)
    mu, sd = mu.cpu().numpy(), np.sqrt(var.cpu().numpy())
    eps = np.random.default_rng(seed).standard_normal((n_samples, mu.shape[1]))
    probs = np.zeros((mu.shape[0], K))
    for e in eps:  # one draw at a time keeps memory at (m, K)
        z = mu + sd * e
        d2 = ((z[:, None, :] - centroids[None, :, :]) ** 2).sum(-1)
        probs[np.arange(z.shape[0]), d2.argmin(axis=1)] += 1.0
    probs /= n_samples
    sizes = np.bincount(labels, minlength=K).astype(float)
    weights = (labels.size / (K * sizes)) ** rarity_power
    score = (probs * (1.0 - probs) * weights).sum(axis=1)
    return RegionScores(score, probs, labels, centroids, sizes)
