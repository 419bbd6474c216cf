"""Thin, timed adapters around the anchors gpsteer is measured against.

Why: a benchmark is only honest if the anchor is driven the way its own docs drive
it. These adapters call gpCAM 8.6.1 exactly as documented (``GPOptimizer(x, y,
noise_variances=...)``, ``train()`` with its defaults, ``ask``/``tell``), add
nothing but timing and chunked prediction, and turn any exception into a recorded
failure so one crash does not sink a whole table. The GP-free baselines (raster,
random points, python-adaptive) live in :mod:`benchmarks.baselines`.

gpCAM behaviour these adapters work around or record (read from the 8.6.1/fvgp 4.9.3
sources):

* ``posterior_covariance(x, variance_only=True)`` still builds the full ``m x m``
  prior and posterior covariance in the default ``"Chol"`` linalg mode
  (``variance_only`` is honoured only with a stored inverse), so predicting a 100x100
  grid at once allocates several 800 MB matrices. We predict in chunks.
* ``train()`` defaults to ``method="local"``: L-BFGS-B from 5 starts (``n_restarts``),
  bounds inferred from the data, ``max_iter=10000``; warnings raised inside the
  optimizer are silenced and a failed ``minimize`` run is still accepted.
* ``train(asynchronous=True)`` switches the method to MCMC and needs a Dask client;
  the objective is pickled with the data of that moment, so later ``tell()`` data is
  never seen by the running job.
* ``ask(n>1)`` on bounds silently replaces most acquisition functions with
  ``"total correlation"`` (with a warning); ``"variance"`` actually scores the
  standard deviation.
* Importing fvgp installs ``warnings.simplefilter("once", UserWarning)`` process-wide.
"""

from __future__ import annotations

import contextlib
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "AsyncTrace",
    "Attempt",
    "Fit",
    "LoopTrace",
    "attempt",
    "gpcam_async_fit",
    "gpcam_fit",
    "gpcam_mapping_loop",
    "gpcam_version",
    "local_dask_client",
]

#: ``predict(Xq) -> (mean, variance)``; variance is None for GP-free baselines.
Predictor = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray | None]]

UNIT_SQUARE = np.array([[0.0, 1.0], [0.0, 1.0]])
PREDICT_CHUNK = 500
MEAN_CHUNK = 5000


@dataclass(frozen=True)
class Fit:
    """A trained model: how to predict with it, and what training cost.

    ``train_seconds`` is the wall time of construction plus training (what a user
    waits for between having the data and having a usable model).
    """

    predict: Predictor
    train_seconds: float
    hyperparameters: tuple[float, ...] = ()


@dataclass(frozen=True)
class Attempt:
    """The value of a call, or the error it raised (one line) and its traceback."""

    value: object = None
    error: str | None = None
    details: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None


def attempt(fn: Callable[..., object], *args: object, **kwargs: object) -> Attempt:
    """Run ``fn`` and capture a failure instead of raising it (for table rows)."""
    try:
        return Attempt(value=fn(*args, **kwargs))
    except Exception as exc:  # any anchor failure becomes a table entry
        return Attempt(error=f"{type(exc).__name__}: {exc}"[:200], details=traceback.format_exc())


def gpcam_version() -> str:
    """Installed gpCAM and fvgp versions, or why they cannot be imported."""
    try:
        import fvgp
        import gpcam
    except ImportError as exc:
        return f"not installed ({exc}); run: pip install -e '.[bench]'"
    return f"gpcam {gpcam.__version__}, fvgp {fvgp.__version__}"


def _gpcam_optimizer(X: np.ndarray, y: np.ndarray, noise_variances: np.ndarray | None):
    from gpcam import GPOptimizer

    with warnings.catch_warnings():
        # "Hyperparameters initialized to a vector of ones" and friends: expected.
        warnings.simplefilter("ignore", UserWarning)
        return GPOptimizer(
            np.asarray(X, dtype=np.float64),
            np.asarray(y, dtype=np.float64),
            noise_variances=None if noise_variances is None else np.asarray(noise_variances),
        )


def _gpcam_predictor(gp) -> Predictor:
    """Chunked posterior mean and variance (see module notes on ``variance_only``)."""

    def predict(Xq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Xq = np.asarray(Xq, dtype=np.float64)
        means, variances = [], []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            for start in range(0, len(Xq), PREDICT_CHUNK):
                chunk = Xq[start : start + PREDICT_CHUNK]
                means.append(np.asarray(gp.posterior_mean(chunk)["m(x)"]).reshape(-1))
                cov = gp.posterior_covariance(chunk, variance_only=True)
                variances.append(np.asarray(cov["v(x)"]).reshape(-1))
        return np.concatenate(means), np.concatenate(variances)

    return predict


def gpcam_fit(
    X: np.ndarray, y: np.ndarray, noise_variances: np.ndarray | None, seed: int | None = 0
) -> Fit:
    """Fit gpCAM as its docs do: ``GPOptimizer(X, y, noise_variances=...)``, ``train()``.

    ``train()`` runs with every default (local L-BFGS-B, 5 restarts, bounds from the
    data, gpCAM's anisotropic Matern-3/2 kernel and constant prior mean = mean(y)).
    gpCAM draws its restarts from numpy's global random state, so ``seed`` (if not
    None) seeds that state first, for reproducible runs.
    """
    if seed is not None:
        np.random.seed(seed)  # gpCAM offers no other way  # noqa: NPY002
    t0 = time.perf_counter()
    gp = _gpcam_optimizer(X, y, noise_variances)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        gp.train()
    seconds = time.perf_counter() - t0
    hps = tuple(float(h) for h in np.asarray(gp.hyperparameters).ravel())
    return Fit(predict=_gpcam_predictor(gp), train_seconds=seconds, hyperparameters=hps)


@contextlib.contextmanager
def local_dask_client(n_workers: int = 1, threads_per_worker: int = 1) -> Iterator[object]:
    """A Dask ``LocalCluster`` bound to 127.0.0.1 with no dashboard, closed on exit.

    Why our own: gpCAM builds a bare ``Client()`` when it needs one and none is
    given; we never let it, so nothing listens beyond loopback and nothing leaks.
    """
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=n_workers,
        threads_per_worker=threads_per_worker,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        scheduler_port=0,
    )
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@dataclass
class AsyncTrace:
    """What asynchronous gpCAM training delivered over time.

    ``polls`` holds ``(seconds since submission, log marginal likelihood on the
    data at submission, hyperparameters)`` after each ``update_hyperparameters``.
    """

    submit_seconds: float
    polls: list[tuple[float, float, tuple[float, ...]]] = field(default_factory=list)
    fit: Fit | None = None


def gpcam_async_fit(
    X: np.ndarray,
    y: np.ndarray,
    noise_variances: np.ndarray | None,
    client: object,
    run_seconds: float = 20.0,
    poll_seconds: float = 2.0,
) -> AsyncTrace:
    """Drive ``train(asynchronous=True)`` + ``update_hyperparameters`` as gpCAM's docs do.

    Submits the job (MCMC by gpCAM's default for asynchronous training) on ``client``,
    polls every ``poll_seconds`` for ``run_seconds``, then stops it. The returned
    ``fit.train_seconds`` is the whole wait, since that is when the last update landed.
    """
    t0 = time.perf_counter()
    gp = _gpcam_optimizer(X, y, noise_variances)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        opt = gp.train(asynchronous=True, dask_client=client)
    trace = AsyncTrace(submit_seconds=time.perf_counter() - t0)
    try:
        while time.perf_counter() - t0 < run_seconds:
            time.sleep(poll_seconds)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                hps = gp.update_hyperparameters(opt)
            trace.polls.append(
                (
                    time.perf_counter() - t0,
                    float(gp.log_likelihood()),
                    tuple(float(h) for h in np.asarray(hps).ravel()),
                )
            )
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            gp.stop_training(opt)
    hps = tuple(float(h) for h in np.asarray(gp.hyperparameters).ravel())
    trace.fit = Fit(_gpcam_predictor(gp), time.perf_counter() - t0, hps)
    return trace


@dataclass
class LoopTrace:
    """Per-decision wall times of a mapping loop and the scores of its maps.

    ``decisions`` rows: ``(n_points_before, ask_s, tell_s, train_s)``; ``train_s`` is
    0 where the schedule did not train. ``scores`` rows: ``(n_points, score)``, what
    the loop's ``on_score`` returned for the map at that point count.
    """

    initial_train_seconds: float
    decisions: list[tuple[int, float, float, float]] = field(default_factory=list)
    scores: list[tuple[int, float]] = field(default_factory=list)

    @property
    def decision_seconds(self) -> np.ndarray:
        """Total wall time of each decision (ask + tell + scheduled train)."""
        return np.array([a + t + tr for _, a, t, tr in self.decisions])


def _gpcam_mean(gp) -> Callable[[np.ndarray], np.ndarray]:
    """The posterior mean alone, in chunks (a map needs no variance)."""

    def mean(Xq: np.ndarray) -> np.ndarray:
        Xq = np.asarray(Xq, dtype=np.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            parts = [
                np.asarray(gp.posterior_mean(Xq[i : i + MEAN_CHUNK])["m(x)"]).reshape(-1)
                for i in range(0, len(Xq), MEAN_CHUNK)
            ]
        return np.concatenate(parts)

    return mean


def gpcam_mapping_loop(
    truth: Any,
    n_initial: int,
    n_total: int,
    rng: np.random.Generator,
    *,
    score_at: Sequence[int] = (),
    on_score: Callable[[int, Callable[[np.ndarray], np.ndarray]], float] | None = None,
    train_at: Sequence[int] = (20, 40, 80, 160, 320, 640),
) -> LoopTrace:
    """An autonomous mapping loop the way gpCAM's examples write it.

    Random initial design of ``n_initial`` points, ``train()``, then one point at a
    time: ``ask(bounds, acquisition_function="variance")``, measure, ``tell``, and
    ``train()`` whenever the data count reaches an entry of ``train_at``. ``truth`` is
    a field on the unit square (``sample``, ``measure``, ``noise_std``: gpCAM is told
    that noise variance). When the count reaches an entry of ``score_at`` (and at the
    end), ``on_score(n, mean_map)`` scores the posterior mean; scoring is not part of
    the decision times.
    """
    noise_var = truth.noise_std**2
    X, y = truth.sample(n_initial, rng)

    np.random.seed(int(rng.integers(2**31)))  # gpCAM's restarts use the global state  # noqa: NPY002
    t0 = time.perf_counter()
    gp = _gpcam_optimizer(X, y, np.full(len(y), noise_var))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        gp.train()
    trace = LoopTrace(initial_train_seconds=time.perf_counter() - t0)
    schedule, scored_at = set(train_at), set(score_at)

    def score(n: int) -> None:
        if on_score is not None:
            trace.scores.append((n, on_score(n, _gpcam_mean(gp))))

    n = n_initial
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        while n < n_total:
            ta = time.perf_counter()
            x_next = np.asarray(gp.ask(UNIT_SQUARE, acquisition_function="variance")["x"])
            tb = time.perf_counter()
            x_next = x_next.reshape(1, 2)
            y_next = truth.measure(x_next, rng)
            tc = time.perf_counter()
            gp.tell(x_next, y_next, noise_variances=np.full(1, noise_var))
            td = time.perf_counter()
            n += 1
            train_s = 0.0
            if n in schedule:
                gp.train()
                train_s = time.perf_counter() - td
            trace.decisions.append((n - 1, tb - ta, td - tc, train_s))
            if n in scored_at:
                score(n)
    if not trace.scores or trace.scores[-1][0] != n:
        score(n)
    return trace
