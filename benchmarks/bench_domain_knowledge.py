"""Domain-knowledge benchmark: how many points each piece of prior knowledge saves.

For synthetic samples with known truth (a six-fold pattern, a hexagonal lattice, a
film with a coating front, texture that gets finer along x (a chirp), a sputtered film
that follows a known thickness law plus what the law misses, three samples on a holder
sharing one pattern, a flake measured as spectra with counting noise) every model gets
the same space-filling (Latin hypercube) points and noisy measurements at N = 20, 40,
80, 160, is trained with its engine's default training
(``fit_hyperparameters`` for gpsteer, ``train()`` for gpCAM 8.6.1), and is scored by
NRMSE against the noise-free truth on a 50 x 50 grid (averaged over seeds).

"Points saved" compares each model with the plain gpsteer GP of its row group: the
plain GP's NRMSE at the largest N is the target, the model's curve is interpolated
(log-log) to the N where it reaches that target, and the factor is
``N_max / N_model``; ">=" when the model beats the target already at the smallest N.

gpCAM rows: its default (anisotropic Matérn-3/2), and where gpCAM has the equivalent
of a block, that too: a user kernel averaging gpCAM's Matérn-3/2 over the six
rotations (``kernel_function=``); the thickness law as ``prior_mean_function=``; for the
holder, ``fvGPOptimizer`` (its multi-task GP, one output per sample, NaN where not
measured); for spectra, gpCAM as the engine of each PCA component (gpCAM's multi-output
GP would factor an (N C) x (N C) matrix). gpCAM has no Gibbs-type length-scale field;
its pieces (``fvgp.kernels.non_stat_kernel``, an amplitude field ``g(x1) g(x2)``, and
``sle_kernel``, an embedding through bumps at the data) need a hand-written kernel and
hyperparameter layout, so the chirp and film rows show its default only.

Run: ``python -m benchmarks.bench_domain_knowledge [--quick] [--seeds 2] [--ns 20 40]``.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from scipy.interpolate import griddata
from scipy.stats import qmc

from benchmarks.anchors import attempt, gpcam_version
from benchmarks.engines import gpsteer_version
from benchmarks.fields import dense_grid, nrmse, periodic_lattice, varying_lengthscale
from benchmarks.report import environment, markdown_table, write_outputs

DEFAULT_NS = (20, 40, 80, 160)
QUICK_NS = (20, 40)
EXTRA_SECTIONS = ["holder", "spectra", "film_active", "acquisition"]
GRID = 50
BOX = [(0.0, 1.0), (0.0, 1.0)]
CENTRE = (0.5, 0.5)

# ----------------------------------------------------------------------------- fields


def six_fold(X: np.ndarray) -> np.ndarray:
    """A six-fold (D6) rosette about the centre: six lobes on a ring, radial ripple."""
    dx, dy = X[:, 0] - CENTRE[0], X[:, 1] - CENTRE[1]
    r, t = np.hypot(dx, dy), np.arctan2(dy, dx)
    lobes = np.exp(-(((r - 0.28) / 0.07) ** 2)) * 0.5 * (1 + np.cos(6 * t))
    return lobes + 0.3 * np.cos(2 * np.pi * r / 0.25) * np.exp(-r / 0.4)


def film_front(X: np.ndarray) -> np.ndarray:
    """A coating front: flat film, a sharp (width 0.02) wavy front, a gentle gradient."""
    front = 0.55 + 0.08 * np.sin(2 * np.pi * X[:, 1])
    return 0.5 + 0.5 * np.tanh((X[:, 0] - front) / 0.02) + 0.1 * X[:, 1]


def knudsen(X: np.ndarray, height: float, cx: float, cy: float, h: float) -> np.ndarray:
    """Thickness under a point source at height ``h`` above ``(cx, cy)`` (cosine law)."""
    r2 = (X[:, 0] - cx) ** 2 + (X[:, 1] - cy) ** 2
    return height / (1.0 + r2 / h**2) ** 2


def film_thickness(X: np.ndarray) -> np.ndarray:
    """A sputtered film: the point-source law (parameters unknown to the models) plus what
    the law misses: a clamp's shadow (a dip at (0.8, 0.2)) and a shallow ripple."""
    shadow = 0.08 * np.exp(-0.5 * ((X[:, 0] - 0.8) ** 2 + (X[:, 1] - 0.2) ** 2) / 0.08**2)
    ripple = 0.03 * np.sin(3 * np.pi * X[:, 0]) * np.cos(2 * np.pi * X[:, 1])
    return knudsen(X, 1.0, 0.35, 0.6, 0.45) - shadow + ripple


HOLDER_SCALES = (1.0, 0.7, 1.3)
HOLDER_OWN = ((0.25, 0.75), (0.7, 0.3), (0.5, 0.5))


def holder(X: np.ndarray, sample: np.ndarray) -> np.ndarray:
    """Three samples on one holder: the same pattern (``fields.smooth``) at different
    contrast, each with a small feature of its own (a bump of 0.15 at its own place)."""
    from benchmarks.fields import smooth

    scale = np.asarray(HOLDER_SCALES)[sample]
    own = np.asarray(HOLDER_OWN)[sample]
    bump = 0.15 * np.exp(-0.5 * ((X - own) ** 2).sum(1) / 0.1**2)
    return scale * smooth(X) + bump


ENERGY = np.linspace(-1.0, 1.0, 64)


def flake_counts(X: np.ndarray) -> np.ndarray:
    """Expected counts: a dispersing band on a flake (a wobbly disc), background outside."""
    dx, dy = X[:, 0] - 0.5, X[:, 1] - 0.45
    radius = 0.28 + 0.04 * np.cos(3 * np.arctan2(dy, dx))
    inside = np.hypot(dx, dy) < radius
    centre = 0.8 * (X[:, 0] - 0.5) + 0.2 * np.sin(4 * X[:, 1])
    width = 0.08 + 0.05 * X[:, 1]
    band = 30.0 * np.exp(-0.5 * ((ENERGY[None] - centre[:, None]) / width[:, None]) ** 2)
    background = 2.0 + 2.0 * X[:, 1:2] * (1 - 0.3 * ENERGY[None])
    return background + inside[:, None] * band


def lattice_vectors() -> np.ndarray:
    """Primitive vectors of ``fields.periodic_lattice`` (plane waves at 0.2 + 0/120/240 deg,
    wavelength 0.2): ``a`` with ``d_j . a`` a multiple of 0.2 for every wave direction."""
    d = np.array([[np.cos(t + 0.2), np.sin(t + 0.2)] for t in (0.0, 2 * np.pi / 3)])
    return np.linalg.solve(d, np.array([[0.2, 0.2], [-0.2, 0.0]])).T


# ----------------------------------------------------------------------------- models
Predict = Callable[[np.ndarray], np.ndarray]


def _gpsteer(kernel_factory: Callable[[], object]) -> Callable:
    def fit(X: np.ndarray, y: np.ndarray, noise_var: float, seed: int) -> Predict:
        from gpsteer.gp import GaussianProcess, fit_hyperparameters

        gp = GaussianProcess(kernel=kernel_factory(), input_bounds=BOX)
        gp.set_data(X, y, noise_variance=np.full(len(y), noise_var))
        fit_hyperparameters(gp, seed=seed)
        return lambda Xq: gp.predict(Xq).mean

    return fit


def plain():
    return "matern52"


def c6():
    from gpsteer.gp.kernels import Matern, ScaleKernel, SymmetricKernel, SymmetryGroup

    group = SymmetryGroup.cyclic(6, CENTRE)
    return ScaleKernel(SymmetricKernel(Matern(ard=False), group, input_bounds=BOX))


def d6():
    from gpsteer.gp.kernels import Matern, ScaleKernel, SymmetricKernel, SymmetryGroup

    group = SymmetryGroup.dihedral(6, CENTRE)
    return ScaleKernel(SymmetricKernel(Matern(ard=False), group, input_bounds=BOX))


def lattice():
    from gpsteer.gp.kernels import LatticePeriodic, Matern, ScaleKernel

    lat = LatticePeriodic(lattice_vectors(), input_bounds=BOX)
    return ScaleKernel(lat) + ScaleKernel(Matern())


def warped():
    from gpsteer.gp.kernels import InputWarping, Matern, ScaleKernel

    return ScaleKernel(InputWarping(Matern()))


def gibbs():
    from gpsteer.gp.kernels import Gibbs, ScaleKernel

    return ScaleKernel(Gibbs(n_centres=3))


def gibbs_default():
    from gpsteer.gp.kernels import Gibbs, ScaleKernel

    return ScaleKernel(Gibbs())


def gibbs_fine():
    """Bump spacing 1/6 = 0.17: about the band (0.47-0.63) the wavy front sweeps in x, the
    coarsest grid that can be short there and long elsewhere; one field for both axes
    (the front's normal turns, so it is short along both near the front)."""
    from gpsteer.gp.kernels import Gibbs, ScaleKernel

    return ScaleKernel(Gibbs(n_centres=7, per_dimension=False))


def _knudsen_torch(X, p):
    r2 = (X[:, 0] - p["cx"]) ** 2 + (X[:, 1] - p["cy"]) ** 2
    return p["height"] / (1.0 + r2 / p["h"] ** 2) ** 2


KNUDSEN_PARAMETERS = {
    "height": (0.5, (0.05, 5.0), "log"),
    "cx": (0.5, (0.0, 1.0)),
    "cy": (0.5, (0.0, 1.0)),
    "h": (0.5, (0.1, 2.0), "log"),
}


def _gpsteer_physics(X: np.ndarray, y: np.ndarray, noise_var: float, seed: int) -> Predict:
    from gpsteer.gp import FunctionMean, GaussianProcess, fit_hyperparameters

    mean = FunctionMean(_knudsen_torch, KNUDSEN_PARAMETERS)
    gp = GaussianProcess(kernel="matern52", mean=mean, input_bounds=BOX)
    gp.set_data(X, y, noise_variance=np.full(len(y), noise_var))
    fit_hyperparameters(gp, seed=seed)
    return lambda Xq: gp.predict(Xq).mean


def _gpcam_matern_2d(x1: np.ndarray, x2: np.ndarray, hps: np.ndarray) -> np.ndarray:
    """gpCAM's anisotropic Matérn-3/2 on hps[0:3] (the mean owns the rest)."""
    from fvgp.kernels import matern_kernel_diff1

    d = np.sqrt((((x1[:, None, :] - x2[None, :, :]) / hps[1:3]) ** 2).sum(-1))
    return hps[0] * matern_kernel_diff1(d, 1.0)


def _gpcam_knudsen_mean(x: np.ndarray, hps: np.ndarray) -> np.ndarray:
    return knudsen(x, *hps[3:7])


def _gpcam_physics(X: np.ndarray, y: np.ndarray, noise_var: float, seed: int) -> Predict:
    """gpCAM with the same law as ``prior_mean_function`` (its docs' recipe: the mean reads
    its own slice of the hyperparameter vector, trained with the kernel's)."""
    from gpcam import GPOptimizer

    from benchmarks.anchors import _gpcam_predictor

    np.random.seed(seed)  # noqa: NPY002
    init = np.array([float(np.var(y)), 0.2, 0.2, 0.5, 0.5, 0.5, 0.5])
    bounds = np.array(
        [[1e-4, 1e2], [1e-3, 2.0], [1e-3, 2.0], [0.05, 5.0], [0.0, 1.0], [0.0, 1.0], [0.1, 2.0]]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        gp = GPOptimizer(
            X,
            y,
            init_hyperparameters=init,
            noise_variances=np.full(len(y), noise_var),
            kernel_function=_gpcam_matern_2d,
            prior_mean_function=_gpcam_knudsen_mean,
        )
        gp.train(hyperparameter_bounds=bounds)
    predict = _gpcam_predictor(gp)
    return lambda Xq: predict(Xq)[0]


def _gpcam(kernel: str) -> Callable:
    def fit(X: np.ndarray, y: np.ndarray, noise_var: float, seed: int) -> Predict:
        from benchmarks.anchors import _gpcam_predictor, gpcam_fit

        if kernel == "default":
            return lambda Xq: gpcam_fit(X, y, np.full(len(y), noise_var), seed).predict(Xq)[0]
        from gpcam import GPOptimizer

        np.random.seed(seed)  # gpCAM draws its restarts from the global state  # noqa: NPY002
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            gp = GPOptimizer(
                X,
                y,
                init_hyperparameters=np.array([float(np.var(y)), 0.2]),
                noise_variances=np.full(len(y), noise_var),
                kernel_function=_gpcam_c6_kernel,
            )
            gp.train(hyperparameter_bounds=np.array([[1e-3, 1e2], [1e-3, 2.0]]))
        predict = _gpcam_predictor(gp)
        return lambda Xq: predict(Xq)[0]

    return fit


def _gpcam_c6_kernel(x1: np.ndarray, x2: np.ndarray, hps: np.ndarray) -> np.ndarray:
    """gpCAM's Matérn-3/2 averaged over six rotations about the centre (single sum)."""
    from fvgp.kernels import matern_kernel_diff1

    c = np.asarray(CENTRE)
    total = np.zeros((len(x1), len(x2)))
    for k in range(6):
        a = 2 * np.pi * k / 6
        R = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        x2r = (x2 - c) @ R.T + c
        d = np.sqrt(((x1[:, None, :] - x2r[None, :, :]) ** 2).sum(-1))
        total += matern_kernel_diff1(d, hps[1])
    return hps[0] * total / 6.0


@dataclass
class Model:
    label: str
    fit: Callable
    baseline: bool = False
    kernel: Callable[[], object] | None = None  # gpsteer kernel factory (for active runs)


@dataclass
class Scenario:
    name: str
    description: str
    truth: Callable[[np.ndarray], np.ndarray]
    noise_std: float
    models: list[Model]


SCENARIOS = [
    Scenario(
        "six_fold",
        "six-fold rosette about the centre (own field)",
        six_fold,
        0.02,
        [
            Model("gpsteer Matern-5/2 (no knowledge)", _gpsteer(plain), baseline=True),
            Model("gpsteer + C6 symmetry", _gpsteer(c6)),
            Model("gpsteer + D6 symmetry", _gpsteer(d6)),
            Model("gpCAM default", _gpcam("default")),
            Model("gpCAM + C6 user kernel", _gpcam("c6")),
        ],
    ),
    Scenario(
        "lattice",
        "hexagonal lattice, period 0.2 (benchmarks.fields.periodic_lattice)",
        periodic_lattice,
        0.03,
        [
            Model("gpsteer Matern-5/2 (no knowledge)", _gpsteer(plain), baseline=True),
            Model("gpsteer + LatticePeriodic (known vectors) + Matern", _gpsteer(lattice)),
            Model("gpCAM default", _gpcam("default")),
        ],
    ),
    Scenario(
        "film_front",
        "film with a sharp wavy coating front (own field)",
        film_front,
        0.02,
        [
            Model("gpsteer Matern-5/2 (no knowledge)", _gpsteer(plain), True, plain),
            Model("gpsteer + Kumaraswamy warping", _gpsteer(warped), kernel=warped),
            Model("gpsteer + Gibbs length-scale field (3x3)", _gpsteer(gibbs), kernel=gibbs),
            Model(
                "gpsteer + Gibbs length-scale field (7x7, one field)",
                _gpsteer(gibbs_fine),
                kernel=gibbs_fine,
            ),
            Model("gpCAM default", _gpcam("default")),
        ],
    ),
    Scenario(
        "chirp",
        "texture finer along x, local period 0.5 -> 0.07 (benchmarks.fields.varying_lengthscale)",
        varying_lengthscale,
        0.02,
        [
            Model("gpsteer Matern-5/2 (no knowledge)", _gpsteer(plain), baseline=True),
            Model("gpsteer + Kumaraswamy warping", _gpsteer(warped)),
            Model("gpsteer + Gibbs length-scale field (default 4x4)", _gpsteer(gibbs_default)),
            Model("gpCAM default", _gpcam("default")),
        ],
    ),
    Scenario(
        "physics_mean",
        "sputtered film: point-source thickness law (4 unknown parameters) + a clamp "
        "shadow and a ripple it misses (own field)",
        film_thickness,
        0.01,
        [
            Model("gpsteer Matern-5/2, constant mean (no knowledge)", _gpsteer(plain), True),
            Model("gpsteer + FunctionMean(point-source law)", _gpsteer_physics),
            Model("gpCAM default", _gpcam("default")),
            Model("gpCAM + prior_mean_function(point-source law)", _gpcam_physics),
        ],
    ),
]


# ----------------------------------------------------------------------------- spectra
def _spectral_models() -> list[Model]:
    def steer(poisson: bool) -> Callable:
        def fit(X, Y, seed):
            from gpsteer.gp.multioutput import SpectralGP

            m = SpectralGP(BOX, variance_fraction=0.99, max_components=6)
            m.set_data(X, Y, channel_variance="poisson" if poisson else None)
            m.fit(seed=seed)
            return lambda Xq: m.predict(Xq).mean

        return fit

    def interpolate(X, Y, seed):
        def predict(Xq):
            lin = griddata(X, Y, Xq, method="linear")
            holes = np.isnan(lin[:, 0])
            lin[holes] = griddata(X, Y, Xq[holes], method="nearest")
            return lin

        return predict

    def per_channel(X, Y, seed):
        """No reduction: one GP per channel, sharing the hyperparameters that training
        finds for the total intensity (64 separate trainings would cost 64 times more)."""
        from gpsteer.gp import GaussianProcess, fit_hyperparameters
        from gpsteer.gp.multioutput import poisson_variance

        var = poisson_variance(Y)
        total = GaussianProcess(input_bounds=BOX)
        total.set_data(X, Y.sum(1), noise_variance=var.sum(1))
        fit_hyperparameters(total, seed=seed)
        kernel = {k: v for k, v in total.hyperparameters().items() if k.startswith("kernel.")}
        gps = []
        for c in range(Y.shape[1]):
            gp = GaussianProcess(input_bounds=BOX)
            gp.set_data(X, Y[:, c], noise_variance=var[:, c])
            gp.set_hyperparameters(kernel)
            gps.append(gp)
        return lambda Xq: np.column_stack([gp.predict(Xq).mean for gp in gps])

    def gpcam_pca(X, Y, seed):
        from benchmarks.anchors import gpcam_fit
        from gpsteer.gp.multioutput import PCABasis, poisson_variance

        basis = PCABasis.fit(Y, variance_fraction=0.99, max_components=6)
        Z, nv = basis.project(Y), basis.project_variance(poisson_variance(Y))
        fits = [gpcam_fit(X, Z[:, k], nv[:, k], seed) for k in range(basis.n_components)]
        return lambda Xq: basis.reconstruct(np.column_stack([f.predict(Xq)[0] for f in fits]))

    return [
        Model("linear interpolation per channel (no GP)", interpolate),
        Model("gpsteer GP per channel, no reduction (64 GPs)", per_channel, baseline=True),
        Model("gpsteer PCA + GP per component, learned noise", steer(False)),
        Model("gpsteer PCA + GP per component, Poisson noise projected", steer(True)),
        Model("gpCAM default per PCA component, Poisson noise projected", gpcam_pca),
    ]


# ----------------------------------------------------------------------------- holder
HolderPredict = Callable[[np.ndarray, np.ndarray], np.ndarray]
N_SAMPLES = len(HOLDER_SCALES)


def _holder_models() -> list[Model]:
    def per_sample(engine: str) -> Callable:
        def fit(X, s, y, noise_var, seed) -> HolderPredict:
            from benchmarks.anchors import gpcam_fit

            fits = []
            for c in range(N_SAMPLES):
                on = s == c
                if engine == "gpcam":
                    f = gpcam_fit(X[on], y[on], np.full(on.sum(), noise_var), seed)
                    fits.append(lambda Xq, f=f: f.predict(Xq)[0])
                else:
                    fits.append(_gpsteer(plain)(X[on], y[on], noise_var, seed))
            return lambda Xq, sq: np.select(
                [sq == c for c in range(N_SAMPLES)], [f(Xq) for f in fits]
            )

        return fit

    def joint(X, s, y, noise_var, seed) -> HolderPredict:
        from gpsteer.gp import GaussianProcess, fit_hyperparameters
        from gpsteer.gp.kernels import mixed_kernel

        bounds = [*BOX, (0.0, N_SAMPLES - 1.0)]
        gp = GaussianProcess(kernel=mixed_kernel(3, 2, N_SAMPLES), input_bounds=bounds)
        gp.set_data(np.column_stack([X, s]), y, noise_variance=np.full(len(y), noise_var))
        fit_hyperparameters(gp, seed=seed)
        return lambda Xq, sq: gp.predict(np.column_stack([Xq, sq])).mean

    def gpcam_multitask(X, s, y, noise_var, seed) -> HolderPredict:
        """gpCAM's fvGPOptimizer as documented: one output per sample, NaN where a point was
        not measured; its default kernel treats the output index as a third continuous
        dimension (Matérn-3/2, ARD)."""
        from gpcam import fvGPOptimizer

        Y = np.full((len(y), N_SAMPLES), np.nan)
        Y[np.arange(len(y)), s] = y
        np.random.seed(seed)  # noqa: NPY002
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            gp = fvGPOptimizer(X, Y, noise_variances=np.where(np.isnan(Y), np.nan, noise_var))
            gp.train()

        def predict(Xq, sq):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                out = np.asarray(gp.posterior_mean(Xq, x_out=np.arange(float(N_SAMPLES)))["m(x)"])
            return out.reshape(len(Xq), N_SAMPLES)[np.arange(len(Xq)), sq]

        return predict

    return [
        Model("gpsteer Matern-5/2, one GP per sample (no knowledge)", per_sample("gpsteer"), True),
        Model("gpsteer mixed_kernel: Categorical(lowrank) x Matern over (x, y, sample)", joint),
        Model("gpCAM default, one GP per sample", per_sample("gpcam")),
        Model("gpCAM fvGPOptimizer default (sample index as a dimension)", gpcam_multitask),
    ]


def holder_design(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points in all, split evenly over the samples, Latin hypercube on each."""
    counts = [n // N_SAMPLES + (c < n % N_SAMPLES) for c in range(N_SAMPLES)]
    X = np.vstack([design(k, seed + 17 * c) for c, k in enumerate(counts)])
    return X, np.repeat(np.arange(N_SAMPLES), counts)


def run_holder(ns, seeds, noise_std: float = 0.02) -> list[Curve]:
    grid = dense_grid(GRID)
    gq = np.vstack([grid] * N_SAMPLES)
    sq = np.repeat(np.arange(N_SAMPLES), len(grid))
    truth = holder(gq, sq)
    models = _holder_models()
    curves = [Curve(m.label) for m in models]
    for seed in seeds:
        for n in ns:
            X, s = holder_design(n, 1000 * seed + n)
            rng = np.random.default_rng(seed * 7919 + n)
            y = holder(X, s) + noise_std * rng.standard_normal(n)
            for model, curve in zip(models, curves, strict=True):
                t0 = time.perf_counter()
                run = attempt(model.fit, X, s, y, noise_std**2, seed)
                pred = attempt(run.value, gq, sq) if run.ok else run
                if not pred.ok:
                    curve.errors.append(f"N={n}: {pred.error}")
                    print(f"  holder {model.label} N={n}: FAILED {pred.error}", flush=True)
                    continue
                err = nrmse(truth, pred.value)
                curve.nrmse.setdefault(n, []).append(err)
                curve.seconds.setdefault(n, []).append(time.perf_counter() - t0)
                print(
                    f"  holder seed={seed} N={n} {model.label}: NRMSE {err:.4f} "
                    f"({time.perf_counter() - t0:.1f} s)",
                    flush=True,
                )
    return curves


# ----------------------------------------------------------------------------- running
@dataclass
class Curve:
    label: str
    nrmse: dict[int, list[float]] = field(default_factory=dict)
    seconds: dict[int, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def mean(self, n: int) -> float | None:
        v = self.nrmse.get(n)
        return float(np.mean(v)) if v else None


def design(n: int, seed: int) -> np.ndarray:
    return qmc.LatinHypercube(d=2, seed=seed).random(n)


def run_scalar(sc: Scenario, ns, seeds) -> list[Curve]:
    grid = dense_grid(GRID)
    truth = sc.truth(grid)
    curves = [Curve(m.label) for m in sc.models]
    for seed in seeds:
        for n in ns:
            X = design(n, 1000 * seed + n)
            rng = np.random.default_rng(seed * 7919 + n)
            y = sc.truth(X) + sc.noise_std * rng.standard_normal(n)
            for model, curve in zip(sc.models, curves, strict=True):
                t0 = time.perf_counter()
                run = attempt(model.fit, X, y, sc.noise_std**2, seed)
                if run.ok:
                    pred = attempt(run.value, grid)
                    run = pred if not pred.ok else run
                if not run.ok:
                    curve.errors.append(f"N={n}: {run.error}")
                    print(f"  {sc.name} {model.label} N={n}: FAILED {run.error}", flush=True)
                    continue
                err = nrmse(truth, pred.value)
                curve.nrmse.setdefault(n, []).append(err)
                curve.seconds.setdefault(n, []).append(time.perf_counter() - t0)
                print(
                    f"  {sc.name} seed={seed} N={n} {model.label}: NRMSE {err:.4f} "
                    f"({time.perf_counter() - t0:.1f} s)",
                    flush=True,
                )
    return curves


def run_spectra(ns, seeds) -> list[Curve]:
    grid = dense_grid(30)
    truth = flake_counts(grid)
    span = float(truth.max() - truth.min())
    models = _spectral_models()
    curves = [Curve(m.label) for m in models]
    for seed in seeds:
        for n in ns:
            X = design(n, 1000 * seed + n + 1)
            Y = np.random.default_rng(seed * 7919 + n).poisson(flake_counts(X)).astype(float)
            for model, curve in zip(models, curves, strict=True):
                t0 = time.perf_counter()
                run = attempt(model.fit, X, Y, seed)
                pred = attempt(run.value, grid) if run.ok else run
                if not pred.ok:
                    curve.errors.append(f"N={n}: {pred.error}")
                    print(f"  spectra {model.label} N={n}: FAILED {pred.error}", flush=True)
                    continue
                err = float(np.sqrt(np.mean((pred.value - truth) ** 2)) / span)
                curve.nrmse.setdefault(n, []).append(err)
                curve.seconds.setdefault(n, []).append(time.perf_counter() - t0)
                print(
                    f"  spectra seed={seed} N={n} {model.label}: NRMSE {err:.4f} "
                    f"({time.perf_counter() - t0:.1f} s)",
                    flush=True,
                )
    return curves


def run_active(sc: Scenario, seeds, n_initial: int = 20, n_total: int = 120, every: int = 20):
    """An autonomous loop per gpsteer model: from ``n_initial`` Latin-hypercube points, add
    one point at a time where the posterior variance is largest (40 x 40 candidates),
    retrain every ``every`` points, score NRMSE then. Here a model's knowledge also
    decides *where* to measure (a short length scale at a front draws points to it)."""
    from gpsteer.gp import GaussianProcess, fit_hyperparameters

    grid, cand = dense_grid(GRID), dense_grid(40)
    truth, nv = sc.truth(grid), sc.noise_std**2
    models = [m for m in sc.models if m.kernel is not None]
    curves = [Curve(m.label) for m in models]
    for seed in seeds:
        for model, curve in zip(models, curves, strict=True):
            rng = np.random.default_rng(seed)
            X = design(n_initial, 2000 + seed)
            gp = GaussianProcess(kernel=model.kernel(), input_bounds=BOX)
            gp.set_data(
                X,
                sc.truth(X) + sc.noise_std * rng.standard_normal(n_initial),
                noise_variance=np.full(n_initial, nv),
            )
            fit_hyperparameters(gp, seed=seed)
            t0 = time.perf_counter()
            while gp.n < n_total:
                x = cand[[int(np.argmax(gp.predict(cand).variance))]]
                gp.append(x, sc.truth(x) + sc.noise_std * rng.standard_normal(1), [nv])
                if (gp.n - n_initial) % every == 0:
                    fit_hyperparameters(gp, seed=seed, n_starts=2)
                    err = nrmse(truth, gp.predict(grid).mean)
                    curve.nrmse.setdefault(gp.n, []).append(err)
            print(
                f"  {sc.name} active seed={seed} {model.label}: "
                f"{[(n, round(v[-1], 4)) for n, v in curve.nrmse.items()]} "
                f"({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
    return curves, models


def flake_mask(X: np.ndarray) -> np.ndarray:
    """True on the flake of :func:`flake_counts`."""
    dx, dy = X[:, 0] - 0.5, X[:, 1] - 0.45
    return np.hypot(dx, dy) < 0.28 + 0.04 * np.cos(3 * np.arctan2(dy, dx))


def run_acquisition(seeds, n_initial: int = 20, n_added: int = 40) -> list[list[str]]:
    """Spectral acquisition: random vs total variance vs region discovery.

    From the same ``n_initial`` Latin-hypercube spectra, each strategy adds ``n_added``
    points one at a time from a 30 x 30 candidate grid (retraining every 10 points);
    scored by the fraction of the grid whose flake/substrate class (predicted band
    height above 15 counts) is wrong, and by spectral NRMSE.
    """
    from gpsteer.acquisition import region_discovery, total_variance
    from gpsteer.gp.multioutput import SpectralGP

    grid = dense_grid(30)
    truth, inside = flake_counts(grid), flake_mask(grid)
    span = float(truth.max() - truth.min())
    results: dict[str, list[tuple[float, float]]] = {}
    for seed in seeds:
        X0 = design(n_initial, 500 + seed)
        rng0 = np.random.default_rng(seed)
        Y0 = rng0.poisson(flake_counts(X0)).astype(float)
        for strategy in ("random", "total variance", "region discovery"):
            rng = np.random.default_rng(seed + 1)
            model = SpectralGP(BOX, variance_fraction=0.99, max_components=6)
            model.set_data(X0, Y0, channel_variance="poisson")
            model.fit(seed=seed)
            for step in range(n_added):
                if strategy == "random":
                    x = rng.uniform(0, 1, (1, 2))
                else:
                    score = (
                        total_variance(model, grid)
                        if strategy == "total variance"
                        else region_discovery(model, grid, 2, seed=seed).score
                    )
                    x = grid[[int(np.argmax(score))]]
                model.append(x, rng.poisson(flake_counts(x)).astype(float), "poisson")
                if (step + 1) % 10 == 0:
                    model.fit(seed=seed, n_starts=2)
            mean = model.predict(grid).mean
            height = mean.max(axis=1) - np.median(mean, axis=1)
            wrong = float(np.mean((height > 15.0) != inside))
            err = float(np.sqrt(np.mean((mean - truth) ** 2)) / span)
            results.setdefault(strategy, []).append((wrong, err))
            print(
                f"  acquisition seed={seed} {strategy}: misclassified {wrong:.4f}, NRMSE {err:.4f}",
                flush=True,
            )
    return [
        [k, f"{np.mean([w for w, _ in v]):.4f}", f"{np.mean([e for _, e in v]):.4f}"]
        for k, v in results.items()
    ]


def points_saved(base: Curve, other: Curve, ns) -> str:
    """``N_max / N_other(target)`` with target = the baseline's NRMSE at the largest N."""
    n_max = max(n for n in ns if base.mean(n) is not None)
    target = base.mean(n_max)
    pts = [(n, other.mean(n)) for n in ns if other.mean(n) is not None]
    if not pts or target is None:
        return "-"
    if pts[0][1] <= target:
        return f">= {n_max / pts[0][0]:.0f}x"
    for (n0, e0), (n1, e1) in itertools.pairwise(pts):
        if e1 <= target < e0:
            frac = math.log(e0 / target) / math.log(e0 / e1)
            return f"{n_max / (n0 * (n1 / n0) ** frac):.2f}x"
    return f"< {n_max / pts[-1][0]:.0f}x (not reached)"


def table(curves: list[Curve], base: Curve, ns) -> tuple[list[str], list[list[str]]]:
    header = ["model", *[f"N={n}" for n in ns], "points saved vs baseline"]
    rows = []
    for c in curves:
        cells = [f"{c.mean(n):.4f}" if c.mean(n) is not None else "failed" for n in ns]
        saved = "(baseline)" if c is base else points_saved(base, c, ns)
        rows.append([c.label, *cells, saved])
    return header, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"N in {QUICK_NS}, one seed")
    parser.add_argument("--ns", type=int, nargs="+")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--only", nargs="+", choices=[s.name for s in SCENARIOS] + EXTRA_SECTIONS)
    parser.add_argument("--out", type=Path, default=Path("bench-output"))
    parser.add_argument("--threads", type=int, help="cap BLAS/OpenMP/torch threads")
    args = parser.parse_args(argv)
    if args.threads is not None:
        from benchmarks.report import limit_threads

        limit_threads(args.threads)
    ns = tuple(args.ns or (QUICK_NS if args.quick else DEFAULT_NS))
    seeds = range(1 if args.quick else args.seeds)
    wanted = set(args.only or [s.name for s in SCENARIOS] + EXTRA_SECTIONS)
    env = environment(gpsteer=gpsteer_version(), gpcam=gpcam_version())
    print(env["summary"], flush=True)
    sections, payload = [], {"environment": env, "ns": ns, "seeds": list(seeds), "results": {}}
    groups = [
        (sc.name, sc.description, sc.models, lambda sc=sc: run_scalar(sc, ns, seeds))
        for sc in SCENARIOS
        if sc.name in wanted
    ]
    if "holder" in wanted:
        groups.append(
            (
                "holder",
                "three samples on a holder: one pattern (benchmarks.fields.smooth) at contrast "
                "1.0 / 0.7 / 1.3, each with a small bump of its own (own field); N = points "
                "over all samples, NRMSE over all three maps",
                _holder_models(),
                lambda: run_holder(ns, seeds),
            )
        )
    if "spectra" in wanted:
        groups.append(
            (
                "flake_spectra",
                "flake measured as 64-channel spectra, Poisson counts (band 30, background 2-4) "
                "(own field); NRMSE over all channels",
                _spectral_models(),
                lambda: run_spectra(ns, seeds),
            )
        )
    for name, description, models, runner in groups:
        curves = runner()
        base = next(c for c, m in zip(curves, models, strict=True) if m.baseline)
        header, rows = table(curves, base, ns)
        md = markdown_table(header, rows)
        sections.append(f"### {name}: {description}\n\n{md}")
        print(f"\n### {name}: {description}\n\n{md}", flush=True)
        payload["results"][name] = [
            {"label": c.label, "nrmse": c.nrmse, "seconds": c.seconds, "errors": c.errors}
            for c in curves
        ]
    if "film_active" in wanted:
        film = next(sc for sc in SCENARIOS if sc.name == "film_front")
        curves, models = run_active(film, seeds)
        base = next(c for c, m in zip(curves, models, strict=True) if m.baseline)
        n_active = sorted(base.nrmse)
        header, rows = table(curves, base, n_active)
        md = markdown_table(header, rows)
        title = "film_front, autonomous (max-variance) loop from 20 points"
        sections.append(f"### {title}\n\n{md}")
        print(f"\n### {title}\n\n{md}", flush=True)
        payload["results"]["film_active"] = [{"label": c.label, "nrmse": c.nrmse} for c in curves]
    if "acquisition" in wanted:
        rows = run_acquisition(seeds)
        md = markdown_table(
            ["strategy (20 + 40 points)", "misclassified grid fraction", "spectral NRMSE"], rows
        )
        sections.append(f"### flake_spectra acquisition\n\n{md}")
        print(f"\n### flake_spectra acquisition\n\n{md}", flush=True)
        payload["results"]["acquisition"] = rows
    intro = (
        f"NRMSE (by range) on a dense grid, mean over {len(seeds)} seed(s) of Latin-hypercube "
        "designs; points saved = N_max / N at which the model reaches the baseline's NRMSE at "
        "N_max.\n\n"
    )
    write_outputs(
        args.out,
        "domain_knowledge",
        "Domain knowledge: points saved",
        intro + "\n".join(sections),
        env,
        payload,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
