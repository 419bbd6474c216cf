"""Instruments and frame generators: what a detector would record, given the physics.

Pure functions of explicit inputs (parameters, instrument description, exposure,
``numpy.random.Generator``); no clock, no global state. The samples in
:mod:`gpsteer.sim_devices.samples` supply the physical parameters at a position;
the reductions in :mod:`gpsteer.sim_devices.reductions` invert these models.

Frames are small (64 x 64 images, 256-point spectra) so a Channel Access transfer
takes well under a millisecond on loopback.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from gpsteer.errors import InputError

__all__ = [
    "ARPES_FERMI_WINDOW",
    "IR_BANDS",
    "SCHERRER_K",
    "ArpesAxes",
    "IrAxes",
    "IrBand",
    "SaxsGeometry",
    "arpes_expected_rate",
    "arpes_frame",
    "fermi_dirac",
    "ir_expected_absorbance",
    "ir_spectrum",
    "lorentzian",
    "saxs_expected_rate",
    "saxs_frame",
    "saxs_q_chi",
]

#: Scherrer shape factor: ring FWHM (1/nm) = 2 pi K / grain size (nm).
SCHERRER_K = 0.9
#: Energy window (eV, relative to the Fermi level) of the "intensity near E_F" reduction.
ARPES_FERMI_WINDOW = (-0.1, 0.05)
_FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))


def _check_exposure(exposure_s: float) -> float:
    exposure_s = float(exposure_s)
    if not np.isfinite(exposure_s) or exposure_s <= 0:
        raise InputError(f"exposure_s must be a positive number of seconds, got {exposure_s!r}")
    return exposure_s


def lorentzian(x: np.ndarray, center: float, hwhm: float) -> np.ndarray:
    """Unit-area Lorentzian with half width at half maximum ``hwhm``."""
    return (hwhm / np.pi) / ((x - center) ** 2 + hwhm**2)


def fermi_dirac(energy: np.ndarray, edge_width: float) -> np.ndarray:
    """Occupation 1 / (1 + exp(E / w)) with E relative to the Fermi level (eV)."""
    return 0.5 * (1.0 - np.tanh(np.asarray(energy) / (2.0 * edge_width)))


# --------------------------------------------------------------------------- SAXS


@dataclass(frozen=True)
class SaxsGeometry:
    """A small (binned) SAXS detector: shape, beam centre and calibration.

    ``beam_center`` is (x, y) in pixels with x along columns; q follows from the
    exact scattering angle, q = 4 pi / lambda * sin(theta).
    """

    shape: tuple[int, int] = (64, 64)
    beam_center: tuple[float, float] = (31.5, 31.5)
    pixel_size_mm: float = 1.5
    distance_mm: float = 3000.0
    wavelength_nm: float = 0.1
    beamstop_radius_px: float = 4.0


def saxs_q_chi(geometry: SaxsGeometry) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-pixel q (1/nm), azimuth chi (rad) and radius (pixels) of ``geometry``."""
    ny, nx = geometry.shape
    yy, xx = np.mgrid[0:ny, 0:nx].astype(float)
    dx = xx - geometry.beam_center[0]
    dy = yy - geometry.beam_center[1]
    r_px = np.hypot(dx, dy)
    two_theta = np.arctan(r_px * geometry.pixel_size_mm / geometry.distance_mm)
    q = 4.0 * np.pi / geometry.wavelength_nm * np.sin(two_theta / 2.0)
    chi = np.arctan2(dy, dx)
    return q, chi, r_px


def saxs_expected_rate(params: Mapping[str, float], geometry: SaxsGeometry) -> np.ndarray:
    """Expected counts per second in each pixel.

    ``params`` holds ``q0`` (1/nm), ``peak_width`` (ring FWHM in q), ``anisotropy``
    (0 <= a < 1), ``orientation`` (rad), ``intensity`` (ring area in the azimuthal
    average, counts/s/pixel * 1/nm), ``porod`` (B in B/q^4) and ``background``
    (flat counts/s/pixel). The ring is a Gaussian in q times 1 + a cos 2(chi - phi),
    so its azimuthal average has area ``intensity`` exactly.
    """
    q, chi, r_px = saxs_q_chi(geometry)
    sigma = float(params["peak_width"]) / _FWHM_PER_SIGMA
    if sigma <= 0:
        raise InputError(f"peak_width must be positive, got {params['peak_width']!r}")
    ring = np.exp(-0.5 * ((q - float(params["q0"])) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))
    angular = 1.0 + float(params["anisotropy"]) * np.cos(2.0 * (chi - float(params["orientation"])))
    with np.errstate(divide="ignore"):
        porod = float(params["porod"]) / np.maximum(q, 1e-6) ** 4
    rate = float(params["intensity"]) * ring * angular + porod + float(params["background"])
    rate[r_px < geometry.beamstop_radius_px] = 0.0
    return rate


def saxs_frame(
    params: Mapping[str, float],
    geometry: SaxsGeometry,
    exposure_s: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """A Poisson-noisy SAXS image (int32 counts, shape ``geometry.shape``)."""
    exposure_s = _check_exposure(exposure_s)
    return rng.poisson(saxs_expected_rate(params, geometry) * exposure_s).astype(np.int32)


# --------------------------------------------------------------------------- ARPES


@dataclass(frozen=True)
class ArpesAxes:
    """Energy (eV, relative to E_F) and emission-angle (deg) axes of the analyser.

    ``edge_width_ev`` is the effective Fermi-edge width (temperature and
    resolution together), an instrument property the reductions may use.
    """

    energy_range: tuple[float, float] = (-0.6, 0.15)
    n_energy: int = 64
    angle_range: tuple[float, float] = (-12.0, 12.0)
    n_angle: int = 64
    edge_width_ev: float = 0.01

    def energy(self) -> np.ndarray:
        """Energy axis (eV), one value per image row."""
        return np.linspace(*self.energy_range, self.n_energy)

    def angle(self) -> np.ndarray:
        """Angle axis (deg), one value per image column."""
        return np.linspace(*self.angle_range, self.n_angle)


def arpes_expected_rate(params: Mapping[str, float], axes: ArpesAxes) -> np.ndarray:
    """Expected counts per second, shape ``(..., n_energy, n_angle)``.

    One parabolic band E(theta) = ``band_energy`` + ``dispersion`` * theta^2 with
    Lorentzian half width ``linewidth``, weight ``intensity`` (counts/s per unit
    spectral weight), cut by the Fermi function; an incoherent ``background``
    (counts/s, also Fermi-cut) and a small dark rate. Parameters may be arrays
    of one shape ``...`` (many positions at once).
    """
    energy = axes.energy()[:, None]
    angle = axes.angle()[None, :]

    def param(name: str) -> np.ndarray:
        return np.asarray(params[name], dtype=float)[..., None, None]

    band = param("band_energy") + param("dispersion") * angle**2
    spectral = lorentzian(energy, band, param("linewidth"))
    occupation = fermi_dirac(energy, axes.edge_width_ev)
    rate = (param("intensity") * spectral + param("background")) * occupation
    return rate + 0.5


def arpes_frame(
    params: Mapping[str, float], axes: ArpesAxes, exposure_s: float, rng: np.random.Generator
) -> np.ndarray:
    """A Poisson-noisy energy x angle image (int32 counts)."""
    exposure_s = _check_exposure(exposure_s)
    return rng.poisson(arpes_expected_rate(params, axes) * exposure_s).astype(np.int32)


# --------------------------------------------------------------------------- IR


@dataclass(frozen=True)
class IrBand:
    """A Lorentzian absorption band: ``name`` is the reduced field's name."""

    name: str
    center: float
    hwhm: float


#: The band library of the simulated IR samples (wavenumbers in 1/cm).
IR_BANDS: tuple[IrBand, ...] = (
    IrBand("band_1050", 1050.0, 20.0),
    IrBand("band_1240", 1240.0, 12.0),
    IrBand("band_1540", 1540.0, 15.0),
    IrBand("band_1650", 1650.0, 15.0),
    IrBand("band_1730", 1730.0, 10.0),
)


@dataclass(frozen=True)
class IrAxes:
    """Wavenumber axis (1/cm) and detector noise of the IR spectrometer.

    ``noise_std_1s`` is the absorbance noise for a 1 s integration; it falls as
    1/sqrt(exposure).
    """

    wavenumber_range: tuple[float, float] = (900.0, 1800.0)
    n_points: int = 256
    noise_std_1s: float = 0.002

    def wavenumber(self) -> np.ndarray:
        """Wavenumber axis (1/cm)."""
        return np.linspace(*self.wavenumber_range, self.n_points)


def ir_expected_absorbance(
    params: Mapping[str, float],
    axes: IrAxes,
    bands: tuple[IrBand, ...] = IR_BANDS,
) -> np.ndarray:
    """Noise-free absorbance: band areas ``params[band.name]`` plus a linear baseline.

    The baseline is ``baseline_offset`` + ``baseline_slope`` * (nu - 1000) / 1000.
    """
    nu = axes.wavenumber()
    absorbance = (
        float(params["baseline_offset"]) + float(params["baseline_slope"]) * (nu - 1000.0) / 1000.0
    )
    for band in bands:
        absorbance = absorbance + float(params[band.name]) * lorentzian(nu, band.center, band.hwhm)
    return absorbance


def ir_spectrum(
    params: Mapping[str, float],
    axes: IrAxes,
    exposure_s: float,
    rng: np.random.Generator,
    bands: tuple[IrBand, ...] = IR_BANDS,
) -> np.ndarray:
    """A noisy absorbance spectrum (float64, ``axes.n_points`` values)."""
    exposure_s = _check_exposure(exposure_s)
    clean = ir_expected_absorbance(params, axes, bands)
    noise = axes.noise_std_1s / np.sqrt(exposure_s)
    return clean + rng.normal(0.0, noise, size=clean.shape)
