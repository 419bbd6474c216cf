"""Hidden samples with known ground truth, for the simulated end stations.

Each sample is a frozen dataclass built from a seed (``SaxsSample.from_seed(3)``):
the same seed always gives the same sample, so a test or benchmark rebuilds the
sample an IOC is showing from the IOC's ``--seed`` alone (ground truth is never
served over Channel Access). Everything is a pure function of its inputs.

Each sample has

* ``ground_truth(x, y) -> dict[str, value]``: the physical fields at positions
  (mm); arrays broadcast, scalars give floats;
* ``frame(x, y, exposure_s, rng)``: what the detector records there.

The maps are built so a GP has something to learn and something to find: a smooth
gradient, a sharp boundary (SAXS grain domain, ARPES flake edge, IR phase
interface) and a few small features (sub-mm blobs) that a coarse raster misses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import ClassVar

import numpy as np

from gpsteer.devices.instruments import (
    ARPES_FERMI_WINDOW,
    IR_BANDS,
    SCHERRER_K,
    ArpesAxes,
    IrAxes,
    SaxsGeometry,
)
from gpsteer.devices.stations import station_info
from gpsteer.errors import InputError
from gpsteer.sim_devices import frames

__all__ = [
    "SAMPLE_BOUNDS",
    "SAMPLE_KINDS",
    "ArpesSample",
    "Domain",
    "Feature",
    "IrSample",
    "Sample",
    "SaxsSample",
    "make_sample",
]

Field = float | np.ndarray


@dataclass(frozen=True)
class Domain:
    """The scanned rectangle, in mm (x range, y range)."""

    x: tuple[float, float] = (-5.0, 5.0)
    y: tuple[float, float] = (-5.0, 5.0)

    def __post_init__(self) -> None:
        if not (self.x[0] < self.x[1] and self.y[0] < self.y[1]):
            raise InputError(f"Domain needs lo < hi on both axes, got x={self.x}, y={self.y}")

    @property
    def center(self) -> tuple[float, float]:
        """Centre of the rectangle (mm)."""
        return (0.5 * (self.x[0] + self.x[1]), 0.5 * (self.y[0] + self.y[1]))

    @property
    def half_size(self) -> tuple[float, float]:
        """Half widths of the rectangle (mm)."""
        return (0.5 * (self.x[1] - self.x[0]), 0.5 * (self.y[1] - self.y[0]))

    def grid(self, nx: int, ny: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """A raster of positions, shape ``(ny, nx)`` each, covering the rectangle."""
        xs = np.linspace(*self.x, nx)
        ys = np.linspace(*self.y, nx if ny is None else ny)
        return np.meshgrid(xs, ys)

    def normalized(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions mapped to [-1, 1] x [-1, 1]."""
        (cx, cy), (hx, hy) = self.center, self.half_size
        return (np.asarray(x, float) - cx) / hx, (np.asarray(y, float) - cy) / hy


#: The sample area of every simulated end station, mm: x and y in [-5, 5]
#: (the motors' soft limits are 1 mm wider).
SAMPLE_BOUNDS: tuple[tuple[float, float], tuple[float, float]] = (Domain().x, Domain().y)


@dataclass(frozen=True)
class Feature:
    """A small round feature: centre (mm) and radius (mm, Gaussian sigma)."""

    x: float
    y: float
    radius: float

    def weight(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """1 at the centre, falling as a Gaussian; ~0 beyond 3 radii."""
        r2 = (np.asarray(x) - self.x) ** 2 + (np.asarray(y) - self.y) ** 2
        return np.exp(-0.5 * r2 / self.radius**2)


def _features_weight(features: tuple[Feature, ...], x: np.ndarray, y: np.ndarray) -> np.ndarray:
    total = np.zeros(np.broadcast(x, y).shape)
    for feature in features:
        total = np.maximum(total, feature.weight(x, y))
    return total


def _random_features(
    rng: np.random.Generator, domain: Domain, n: int, radius: tuple[float, float]
) -> tuple[Feature, ...]:
    """``n`` features well inside ``domain`` and apart from each other."""
    (cx, cy), (hx, hy) = domain.center, domain.half_size
    placed: list[Feature] = []
    while len(placed) < n:
        fx = cx + rng.uniform(-0.8, 0.8) * hx
        fy = cy + rng.uniform(-0.8, 0.8) * hy
        if all(np.hypot(fx - f.x, fy - f.y) > 0.25 * min(hx, hy) for f in placed):
            placed.append(Feature(float(fx), float(fy), float(rng.uniform(*radius))))
    return tuple(placed)


def _step(s: np.ndarray, width: float) -> np.ndarray:
    """A sharp but continuous 0 -> 1 step across s = 0."""
    return 0.5 * (1.0 + np.tanh(s / width))


def _finish(fields: dict[str, np.ndarray], x: object, y: object) -> dict[str, Field]:
    shape = np.broadcast(np.asarray(x), np.asarray(y)).shape
    out: dict[str, Field] = {}
    for key, value in fields.items():
        value = np.broadcast_to(np.asarray(value, dtype=float), shape)
        out[key] = float(value) if shape == () else np.array(value)
    return out


def _scalar_params(truth: Mapping[str, Field]) -> dict[str, float]:
    try:
        return {key: float(value) for key, value in truth.items()}
    except TypeError as exc:
        raise InputError("frame() takes one position: pass scalar x and y") from exc


# --------------------------------------------------------------------------- SAXS


@dataclass(frozen=True)
class SaxsSample:
    """A nanostructured film seen by SAXS.

    Fields (``ground_truth``): ``d_spacing`` (nm), ``q0`` = 2 pi / d (1/nm),
    ``grain_size`` (nm), ``peak_width`` (ring FWHM, 1/nm, Scherrer), ``anisotropy``
    (0..1), ``orientation`` (rad, in [-pi/2, pi/2)), ``intensity`` (ring area),
    ``porod``, ``background``, ``region`` (0 in domain A, 1 in domain B).

    Structure: d and grain size follow a smooth gradient in domain A; a curved,
    sharp boundary separates domain B (larger d, small grains, strong oriented
    anisotropy); three sub-mm features have smaller d and scatter more.
    """

    kind: ClassVar[str] = "saxs"
    seed: int
    domain: Domain
    d0: float
    d_gradient: tuple[float, float]
    boundary_point: tuple[float, float]
    boundary_angle: float
    boundary_curvature: float
    orientation_a: float
    orientation_b: float
    features: tuple[Feature, ...]
    boundary_width: float = 0.03
    geometry: SaxsGeometry = field(default_factory=SaxsGeometry)

    @classmethod
    def from_seed(cls, seed: int, domain: Domain | None = None) -> SaxsSample:
        """The sample that ``seed`` stands for."""
        domain = domain or Domain()
        rng = np.random.default_rng([int(seed), 1])
        angle = rng.uniform(0, 2 * np.pi)
        (cx, cy), (hx, hy) = domain.center, domain.half_size
        return cls(
            seed=int(seed),
            domain=domain,
            d0=float(rng.uniform(9.8, 10.2)),
            d_gradient=(float(0.6 * np.cos(angle)), float(0.6 * np.sin(angle))),
            boundary_point=(
                float(cx + rng.uniform(-0.3, 0.3) * hx),
                float(cy + rng.uniform(-0.3, 0.3) * hy),
            ),
            boundary_angle=float(rng.uniform(0, 2 * np.pi)),
            boundary_curvature=float(rng.uniform(-0.08, 0.08)),
            orientation_a=float(rng.uniform(-np.pi / 2, np.pi / 2)),
            orientation_b=float(rng.uniform(-np.pi / 2, np.pi / 2)),
            features=_random_features(rng, domain, 3, (0.25, 0.45)),
        )

    def region(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """0 in domain A, 1 in domain B (a curved line with a sharp edge)."""
        dx = np.asarray(x, float) - self.boundary_point[0]
        dy = np.asarray(y, float) - self.boundary_point[1]
        c, s = np.cos(self.boundary_angle), np.sin(self.boundary_angle)
        along, across = c * dx + s * dy, -s * dx + c * dy
        return _step(across - self.boundary_curvature * along**2, self.boundary_width)

    def ground_truth(self, x: Field, y: Field) -> dict[str, Field]:
        """Physical fields at positions (mm)."""
        u, v = self.domain.normalized(x, y)
        b = self.region(x, y)
        f = _features_weight(self.features, np.asarray(x, float), np.asarray(y, float))
        d_a = self.d0 + self.d_gradient[0] * u + self.d_gradient[1] * v + 0.15 * u * v
        d = (1 - b) * d_a + b * (d_a + 1.3) - 0.7 * f
        grain = (1 - b) * (60.0 + 10.0 * v) + b * 28.0
        grain = grain * (1 - 0.25 * f)
        anisotropy = (1 - b) * (0.15 + 0.08 * u) + b * 0.6
        orient = (1 - b) * (self.orientation_a + 0.25 * u) + b * self.orientation_b
        orient = (orient + np.pi / 2) % np.pi - np.pi / 2
        intensity = (40.0 * (1 + 0.2 * v) * (1 - 0.3 * b)) * (1 + 1.5 * f)
        fields = {
            "d_spacing": d,
            "q0": 2 * np.pi / d,
            "grain_size": grain,
            "peak_width": 2 * np.pi * SCHERRER_K / grain,
            "anisotropy": anisotropy,
            "orientation": orient,
            "intensity": intensity,
            "porod": 0.3 * (1 + 0.2 * u) + 0 * v,
            "background": 1.0 + 0 * u,
            "region": b,
        }
        return _finish(fields, x, y)

    def frame(self, x: float, y: float, exposure_s: float, rng: np.random.Generator) -> np.ndarray:
        """A Poisson-noisy detector image at (x, y) for ``exposure_s`` seconds."""
        params = _scalar_params(self.ground_truth(x, y))
        return frames.saxs_frame(params, self.geometry, exposure_s, rng)


# --------------------------------------------------------------------------- ARPES


@dataclass(frozen=True)
class ArpesSample:
    """A 2-D flake on a substrate, seen by ARPES.

    Fields: ``band_energy`` (band bottom relative to E_F, eV: the doping),
    ``linewidth`` (Lorentzian HWHM, eV), ``dispersion`` (eV/deg^2), ``intensity``
    (photoemission weight, counts/s), ``background`` (counts/s), ``on_flake``
    (0/1) and ``fermi_intensity`` (expected mean counts/s per pixel in
    :data:`~gpsteer.devices.instruments.ARPES_FERMI_WINDOW`).

    The flake has an irregular, sharp edge; a doping gradient across it and three
    small bubbles where the band sits higher and broader.
    """

    kind: ClassVar[str] = "arpes"
    seed: int
    domain: Domain
    flake_center: tuple[float, float]
    flake_axes: tuple[float, float]
    flake_angle: float
    wobble_phase: tuple[float, float]
    features: tuple[Feature, ...]
    edge_width: float = 0.02
    axes: ArpesAxes = field(default_factory=ArpesAxes)

    @classmethod
    def from_seed(cls, seed: int, domain: Domain | None = None) -> ArpesSample:
        """The sample that ``seed`` stands for."""
        domain = domain or Domain()
        rng = np.random.default_rng([int(seed), 2])
        (cx, cy), (hx, hy) = domain.center, domain.half_size
        center = (
            float(cx + rng.uniform(-0.15, 0.15) * hx),
            float(cy + rng.uniform(-0.15, 0.15) * hy),
        )
        axes = (float(rng.uniform(0.5, 0.62) * hx), float(rng.uniform(0.36, 0.48) * hy))
        angle = float(rng.uniform(0, np.pi))
        probe = cls(
            seed=int(seed),
            domain=domain,
            flake_center=center,
            flake_axes=axes,
            flake_angle=angle,
            wobble_phase=(float(rng.uniform(0, 2 * np.pi)), float(rng.uniform(0, 2 * np.pi))),
            features=(),
        )
        # Bubbles sit inside the flake: draw candidates until three land there.
        bubbles: list[Feature] = []
        while len(bubbles) < 3:
            (candidate,) = _random_features(rng, domain, 1, (0.18, 0.3))
            inside = probe.flake(candidate.x, candidate.y) > 0.99
            apart = all(np.hypot(candidate.x - f.x, candidate.y - f.y) > 1.0 for f in bubbles)
            if inside and apart:
                bubbles.append(candidate)
        return replace(probe, features=tuple(bubbles))

    def flake(self, x: Field, y: Field) -> np.ndarray:
        """1 on the flake, 0 on the substrate, with a sharp irregular edge."""
        dx = np.asarray(x, float) - self.flake_center[0]
        dy = np.asarray(y, float) - self.flake_center[1]
        c, s = np.cos(self.flake_angle), np.sin(self.flake_angle)
        u, v = (c * dx + s * dy) / self.flake_axes[0], (-s * dx + c * dy) / self.flake_axes[1]
        rho, theta = np.hypot(u, v), np.arctan2(v, u)
        edge = 1 + 0.12 * np.sin(3 * theta + self.wobble_phase[0])
        edge = edge + 0.07 * np.sin(5 * theta + self.wobble_phase[1])
        scale = min(self.flake_axes)
        return _step((edge - rho) * scale, self.edge_width)

    def _band_fields(self, x: Field, y: Field) -> dict[str, np.ndarray]:
        u, v = self.domain.normalized(x, y)
        on = self.flake(x, y)
        f = _features_weight(self.features, np.asarray(x, float), np.asarray(y, float)) * on
        return {
            "band_energy": (1 - on) * -0.12 + on * (-0.30 + 0.05 * u) + 0.10 * f,
            "linewidth": (1 - on) * 0.09 + on * 0.035 * (1 + 0.6 * f),
            "dispersion": (1 - on) * 0.004 + on * 0.006,
            "intensity": (1 - on) * 15.0 + on * 50.0 * (1 + 0.1 * v),
            "background": 20.0 + 0 * u,
            "on_flake": on,
        }

    def ground_truth(self, x: Field, y: Field) -> dict[str, Field]:
        """Physical fields at positions (mm)."""
        fields = self._band_fields(x, y)
        fields["fermi_intensity"] = self._fermi_intensity(fields)
        return _finish(fields, x, y)

    def _fermi_intensity(self, fields: dict[str, np.ndarray], chunk: int = 1024) -> np.ndarray:
        """Mean expected count rate in the E_F window, evaluated from the frame model."""
        energy = self.axes.energy()
        lo, hi = ARPES_FERMI_WINDOW
        rows = (energy >= lo) & (energy <= hi)
        window = replace(
            self.axes,
            energy_range=(float(energy[rows][0]), float(energy[rows][-1])),
            n_energy=int(rows.sum()),
        )
        arrays = np.broadcast_arrays(*[np.asarray(val, float) for val in fields.values()])
        shape = arrays[0].shape
        flat = {key: np.ravel(val) for key, val in zip(fields, arrays, strict=True)}
        n = int(np.prod(shape, dtype=int))
        out = np.empty(n)
        for start in range(0, n, chunk):
            part = {key: val[start : start + chunk] for key, val in flat.items()}
            rate = frames.arpes_expected_rate(part, window)
            out[start : start + chunk] = rate.mean(axis=(-2, -1))
        return out.reshape(shape)

    def frame(self, x: float, y: float, exposure_s: float, rng: np.random.Generator) -> np.ndarray:
        """A Poisson-noisy energy x angle image at (x, y)."""
        params = _scalar_params(_finish(self._band_fields(x, y), x, y))
        return frames.arpes_frame(params, self.axes, exposure_s, rng)


# --------------------------------------------------------------------------- IR

#: Band areas (absorbance * 1/cm) of each pure component at unit thickness.
_IR_COMPONENTS: dict[str, dict[str, float]] = {
    "a": {"band_1650": 12.0, "band_1540": 8.0},
    "b": {"band_1050": 14.0, "band_1240": 6.0},
    "c": {"band_1730": 10.0, "band_1240": 2.0},
}


@dataclass(frozen=True)
class IrSample:
    """A two-phase blend with small inclusions of a third component, seen by IR.

    Fields: ``fraction_a``/``fraction_b``/``fraction_c`` (volume fractions),
    ``thickness`` (relative), one area per band of
    :data:`~gpsteer.devices.instruments.IR_BANDS` (``band_1650``, ...),
    ``band_ratio`` = band_1650 / (band_1650 + band_1050), and the baseline.

    Structure: a wavy interface between phases A and B (about 1 mm wide), a
    thickness gradient, and five small inclusions of C (carbonyl band at 1730/cm).
    """

    kind: ClassVar[str] = "ir"
    seed: int
    domain: Domain
    interface_point: tuple[float, float]
    interface_angle: float
    wave: tuple[float, float]
    features: tuple[Feature, ...]
    interface_width: float = 0.6
    axes: IrAxes = field(default_factory=IrAxes)

    @classmethod
    def from_seed(cls, seed: int, domain: Domain | None = None) -> IrSample:
        """The sample that ``seed`` stands for."""
        domain = domain or Domain()
        rng = np.random.default_rng([int(seed), 3])
        (cx, cy), (hx, hy) = domain.center, domain.half_size
        return cls(
            seed=int(seed),
            domain=domain,
            interface_point=(
                float(cx + rng.uniform(-0.2, 0.2) * hx),
                float(cy + rng.uniform(-0.2, 0.2) * hy),
            ),
            interface_angle=float(rng.uniform(0, 2 * np.pi)),
            wave=(float(rng.uniform(0.4, 0.8)), float(rng.uniform(0, 2 * np.pi))),
            features=_random_features(rng, domain, 5, (0.15, 0.3)),
        )

    def _fields(self, x: Field, y: Field) -> dict[str, np.ndarray]:
        u, v = self.domain.normalized(x, y)
        dx = np.asarray(x, float) - self.interface_point[0]
        dy = np.asarray(y, float) - self.interface_point[1]
        c, s = np.cos(self.interface_angle), np.sin(self.interface_angle)
        along, across = c * dx + s * dy, -s * dx + c * dy
        amplitude, phase = self.wave
        frac_a = _step(across - amplitude * np.sin(0.9 * along + phase), self.interface_width)
        # Inclusions never fill the beam path: at most 90 % C, so every ratio is defined.
        frac_c = 0.9 * _features_weight(self.features, np.asarray(x, float), np.asarray(y, float))
        thickness = 1.0 + 0.15 * u + 0.08 * np.sin(2.0 * v)
        fractions = {"a": frac_a * (1 - frac_c), "b": (1 - frac_a) * (1 - frac_c), "c": frac_c}
        fields: dict[str, np.ndarray] = {
            "fraction_a": fractions["a"],
            "fraction_b": fractions["b"],
            "fraction_c": fractions["c"],
            "thickness": thickness,
        }
        for band in IR_BANDS:
            area = sum(
                fractions[comp] * areas.get(band.name, 0.0)
                for comp, areas in _IR_COMPONENTS.items()
            )
            fields[band.name] = thickness * area
        fields["band_ratio"] = fields["band_1650"] / (fields["band_1650"] + fields["band_1050"])
        fields["baseline_offset"] = 0.02 + 0.01 * u
        fields["baseline_slope"] = 0.01 + 0.005 * v
        return fields

    def ground_truth(self, x: Field, y: Field) -> dict[str, Field]:
        """Physical fields at positions (mm)."""
        return _finish(self._fields(x, y), x, y)

    def frame(self, x: float, y: float, exposure_s: float, rng: np.random.Generator) -> np.ndarray:
        """A noisy absorbance spectrum at (x, y)."""
        params = _scalar_params(self.ground_truth(x, y))
        return frames.ir_spectrum(params, self.axes, exposure_s, rng)


# --------------------------------------------------------------------------- registry

Sample = SaxsSample | ArpesSample | IrSample
SAMPLE_KINDS: dict[str, type] = {cls.kind: cls for cls in (SaxsSample, ArpesSample, IrSample)}


def make_sample(kind: str, seed: int = 0, domain: Domain | None = None) -> Sample:
    """Rebuild the hidden sample of an IOC of ``kind`` started with ``--seed seed``."""
    station_info(kind)  # an unknown kind: the error lists the known ones
    return SAMPLE_KINDS[kind].from_seed(seed, domain)
