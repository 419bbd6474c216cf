"""Held-out sample fields: procedurally generated, one new instance per seed.

Why: the fixed fields of :mod:`benchmarks.fields` are in the repository, so a model
can be tuned to them without meaning to. A scientist's sample is none of them. These
generators draw a fresh instance of each *family* of shapes beamline maps show from
a seed (grains, flakes, fronts, discs, kinks, dot arrays, smooth textures, tiny
features), so efficiency is judged on samples nobody has looked at. Every instance
is a pure function of position on the unit square, scaled so its values span [0, 1]
on a 200 x 200 reference grid, and measured with noise of 2 % of that range.

``make_field("grains", 7)`` is the same field on every machine and in every run.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np

from benchmarks.fields import Field
from gpsteer.errors import UnknownNameError

__all__ = ["FAMILIES", "NOISE_STD", "make_field"]

#: Measurement noise of every held-out field, as a fraction of its range.
NOISE_STD = 0.02
_REFERENCE_GRID = 200

Function = Callable[[np.ndarray], np.ndarray]


def _plane(rng: np.random.Generator, scale: float) -> tuple[float, np.ndarray]:
    """A level and a gentle gradient (magnitude up to ``scale`` over the unit square)."""
    angle = rng.uniform(0.0, 2.0 * np.pi)
    slope = rng.uniform(0.0, scale) * np.array([np.cos(angle), np.sin(angle)])
    return float(rng.uniform(0.0, 1.0)), slope


def grains(rng: np.random.Generator) -> Function:
    """Voronoi grains: 3-8 regions, each its own level and gentle gradient, sharp edges."""
    k = int(rng.integers(3, 9))
    centres = rng.uniform(0.0, 1.0, size=(k, 2))
    planes = [_plane(rng, 0.15) for _ in range(k)]
    levels = np.array([p[0] for p in planes])
    slopes = np.array([p[1] for p in planes])

    def f(X: np.ndarray) -> np.ndarray:
        owner = np.argmin(((X[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
        return levels[owner] + ((X - 0.5) * slopes[owner]).sum(1)

    return f


def _blob(rng: np.random.Generator, centre: np.ndarray, r0: float) -> Callable:
    """An irregular star-shaped region: radius ``r0 (1 + sum a_k cos(k t + p_k))``."""
    ks = np.arange(2, 6)
    amps = rng.uniform(0.0, 0.12, size=ks.size)
    phases = rng.uniform(0.0, 2.0 * np.pi, size=ks.size)

    def inside(X: np.ndarray) -> np.ndarray:
        d = X - centre
        t = np.arctan2(d[:, 1], d[:, 0])
        radius = r0 * (1.0 + (amps * np.cos(ks * t[:, None] + phases)).sum(1))
        return np.hypot(d[:, 0], d[:, 1]) < radius

    return inside


def flakes(rng: np.random.Generator) -> Function:
    """2-4 irregular flakes of a few discrete levels on a substrate, with small bubbles."""
    substrate, tilt = 0.1, _plane(rng, 0.1)[1]
    layers = (0.45, 0.7, 0.95)
    n = int(rng.integers(2, 5))
    shapes = [
        _blob(rng, rng.uniform(0.2, 0.8, size=2), float(rng.uniform(0.1, 0.25))) for _ in range(n)
    ]
    levels = [layers[int(i)] for i in rng.integers(0, len(layers), size=n)]
    bubbles = rng.uniform(0.15, 0.85, size=(int(rng.integers(3, 9)), 2))
    bubble_r = rng.uniform(0.01, 0.03, size=len(bubbles))

    def f(X: np.ndarray) -> np.ndarray:
        out = substrate + ((X - 0.5) * tilt).sum(1)
        on_flake = np.zeros(len(X), bool)
        for inside, level in zip(shapes, levels, strict=True):
            mask = inside(X)
            out = np.where(mask, level + ((X - 0.5) * tilt).sum(1), out)
            on_flake |= mask
        for (bx, by), r in zip(bubbles, bubble_r, strict=True):
            bubble = on_flake & (np.hypot(X[:, 0] - bx, X[:, 1] - by) < r)
            out = np.where(bubble, out - 0.25, out)  # a bubble: another level inside
        return out

    return f


def front(rng: np.random.Generator) -> Function:
    """A curved front of finite width (tanh, width 0.005-0.08) between two gentle planes."""
    angle = rng.uniform(0.0, 2.0 * np.pi)
    normal = np.array([np.cos(angle), np.sin(angle)])
    along = np.array([-normal[1], normal[0]])
    offset = rng.uniform(-0.2, 0.2)
    curvature = rng.uniform(-1.0, 1.0)
    width = float(np.exp(rng.uniform(np.log(0.005), np.log(0.08))))
    (a, ga), (b, gb) = _plane(rng, 0.15), _plane(rng, 0.15)
    b = a + (0.5 + 0.5 * rng.uniform()) * (1.0 if b >= a else -1.0)

    def f(X: np.ndarray) -> np.ndarray:
        c = X - 0.5
        s = c @ normal - offset - curvature * (c @ along) ** 2
        step = 0.5 * (1.0 + np.tanh(s / width))
        return (1 - step) * (a + c @ ga) + step * (b + c @ gb)

    return f


def disc(rng: np.random.Generator) -> Function:
    """A disc (radius 0.12-0.35) of another level on a tilted background, sharp edge."""
    centre = rng.uniform(0.3, 0.7, size=2)
    radius = float(rng.uniform(0.12, 0.35))
    base, tilt = _plane(rng, 0.2)
    jump = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.4, 1.0))

    def f(X: np.ndarray) -> np.ndarray:
        inside = np.hypot(X[:, 0] - centre[0], X[:, 1] - centre[1]) < radius
        return base + ((X - 0.5) * tilt).sum(1) + jump * inside

    return f


def two_slopes(rng: np.random.Generator) -> Function:
    """Two regions split by a line, different slopes (a kink), and a small step (0-0.2)."""
    angle = rng.uniform(0.0, 2.0 * np.pi)
    normal = np.array([np.cos(angle), np.sin(angle)])
    point = rng.uniform(0.35, 0.65, size=2)
    g1 = rng.normal(size=2)
    g2 = rng.normal(size=2)
    step = float(rng.uniform(0.0, 0.2)) * (np.linalg.norm(g1) + np.linalg.norm(g2))

    def f(X: np.ndarray) -> np.ndarray:
        d = X - point
        side = d @ normal > 0
        return np.where(side, d @ g1 + step, d @ g2)

    return f


def lattice(rng: np.random.Generator) -> Function:
    """A dot array: Gaussian dots on a slightly disordered oblique lattice (spacing 0.08-0.15)."""
    spacing = float(rng.uniform(0.08, 0.15))
    angle = rng.uniform(0.0, np.pi)
    skew = rng.uniform(np.pi / 3, np.pi / 2)
    a1 = spacing * np.array([np.cos(angle), np.sin(angle)])
    a2 = spacing * np.array([np.cos(angle + skew), np.sin(angle + skew)])
    m = int(np.ceil(2.0 / spacing))
    i, j = np.meshgrid(np.arange(-m, m + 1), np.arange(-m, m + 1))
    sites = 0.5 + i.reshape(-1, 1) * a1 + j.reshape(-1, 1) * a2
    sites = sites[np.all((sites > -0.2) & (sites < 1.2), axis=1)]
    sites = sites + rng.normal(scale=0.05 * spacing, size=sites.shape)
    sigma = spacing * float(rng.uniform(0.15, 0.25))
    heights = rng.uniform(0.8, 1.0, size=len(sites))

    def f(X: np.ndarray) -> np.ndarray:
        out = np.zeros(len(X))
        for start in range(0, len(X), 4096):
            chunk = X[start : start + 4096]
            r2 = ((chunk[:, None, :] - sites[None]) ** 2).sum(-1)
            out[start : start + 4096] = (heights * np.exp(-0.5 * r2 / sigma**2)).sum(1)
        return out

    return f


def smooth(rng: np.random.Generator) -> Function:
    """A smooth random texture: 40 random Fourier modes of a length scale 0.15-0.35."""
    lengthscale = float(rng.uniform(0.15, 0.35))
    freqs = rng.normal(scale=1.0 / lengthscale, size=(40, 2))
    phases = rng.uniform(0.0, 2.0 * np.pi, size=40)
    weights = rng.normal(size=40)

    def f(X: np.ndarray) -> np.ndarray:
        return np.cos(X @ freqs.T + phases) @ weights

    return f


def tiny_features(rng: np.random.Generator) -> Function:
    """5-15 tiny spots (sigma 0.006-0.015) on a smooth, gently varying background."""
    background = smooth(rng)
    n = int(rng.integers(5, 16))
    centres = rng.uniform(0.05, 0.95, size=(n, 2))
    sigmas = rng.uniform(0.006, 0.015, size=n)
    heights = rng.choice([-1.0, 1.0], size=n) * rng.uniform(0.5, 1.0, size=n)

    def f(X: np.ndarray) -> np.ndarray:
        r2 = ((X[:, None, :] - centres[None]) ** 2).sum(-1)
        spots = (heights * np.exp(-0.5 * r2 / sigmas**2)).sum(1)
        return 0.15 * background(X) / 4.0 + spots

    return f


FAMILIES: dict[str, Callable[[np.random.Generator], Function]] = {
    "grains": grains,
    "flakes": flakes,
    "front": front,
    "disc": disc,
    "two_slopes": two_slopes,
    "lattice": lattice,
    "smooth": smooth,
    "tiny_features": tiny_features,
}


def make_field(family: str, seed: int) -> Field:
    """Instance ``seed`` of ``family``, scaled to span [0, 1] on a 200 x 200 grid.

    The random stream is keyed by the family's name, not its place in ``FAMILIES``,
    so adding a family never changes the instances of the others.
    """
    try:
        build = FAMILIES[family]
    except KeyError:
        raise UnknownNameError(
            f"unknown field family {family!r}; choose one of {sorted(FAMILIES)}"
        ) from None
    rng = np.random.default_rng([zlib.crc32(family.encode()), int(seed)])
    raw = build(rng)
    t = (np.arange(_REFERENCE_GRID) + 0.5) / _REFERENCE_GRID
    xx, yy = np.meshgrid(t, t)
    reference = raw(np.column_stack([xx.ravel(), yy.ravel()]))
    lo, span = float(reference.min()), float(np.ptp(reference))

    def scaled(X: np.ndarray) -> np.ndarray:
        return (raw(X) - lo) / span

    description = (build.__doc__ or family).splitlines()[0]
    return Field(f"{family}#{seed}", scaled, NOISE_STD, description)
