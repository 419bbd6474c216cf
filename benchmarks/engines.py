"""The gpsteer side of each benchmark, behind the same :class:`~benchmarks.anchors.Fit`.

Why a separate module: the anchors are wrapped exactly as their docs drive them, and
gpsteer is driven exactly as its own docs do (default kernel, default training), so
the two sides of a table differ only in the engine.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.anchors import Fit

__all__ = ["PREDICT_CHUNK", "gpsteer_fit", "gpsteer_version"]

PREDICT_CHUNK = 2000


def gpsteer_version() -> str:
    """gpsteer and torch versions with torch's thread count (timings depend on it)."""
    from importlib.metadata import PackageNotFoundError, version

    import torch

    try:
        steer = version("gpsteer")
    except PackageNotFoundError:
        steer = "not installed (run: pip install -e .)"
    return f"gpsteer {steer}, torch {torch.__version__} ({torch.get_num_threads()} threads)"


def gpsteer_fit(
    X: np.ndarray,
    y: np.ndarray,
    noise_variances: np.ndarray | None,
    seed: int | None = 0,
) -> Fit:
    """Fit gpsteer with its defaults; the timed span matches :func:`gpcam_fit`.

    Construction, data, :func:`gpsteer.gp.fit_hyperparameters` with default options,
    and the first Cholesky factorisation of the trained model (gpCAM's ``train()``
    also ends with one), i.e. everything before the first prediction can be served.
    """
    from gpsteer.gp import GaussianProcess, fit_hyperparameters

    t0 = time.perf_counter()
    gp = GaussianProcess(input_bounds=[(0.0, 1.0), (0.0, 1.0)])
    gp.set_data(X, y, noise_variance=noise_variances)
    result = fit_hyperparameters(gp, seed=seed)
    gp.predict(np.asarray(X[:1]))  # builds and caches the factor
    seconds = time.perf_counter() - t0

    def predict(Xq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Xq = np.asarray(Xq, dtype=np.float64)
        means, variances = [], []
        for start in range(0, len(Xq), PREDICT_CHUNK):
            post = gp.predict(Xq[start : start + PREDICT_CHUNK])
            means.append(np.asarray(post.mean).reshape(-1))
            variances.append(np.asarray(post.variance).reshape(-1))
        return np.concatenate(means), np.concatenate(variances)

    hps = tuple(v for values in result.hyperparameters.values() for v in values)
    return Fit(predict=predict, train_seconds=seconds, hyperparameters=hps)
