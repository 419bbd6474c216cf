"""The instruments of the end stations: detector geometry, axes, band library, line shapes.

What a reduction needs to know about the instrument that recorded a frame, real or
simulated: pure descriptions and functions of explicit inputs (no device, no clock).
The reductions in :mod:`gpsteer.devices.reductions` use them to invert a frame; the
simulated samples of :mod:`gpsteer.sim_devices` use the same descriptions to draw one
(:mod:`gpsteer.sim_devices.frames`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gpsteer.errors import InputError

__all__ = [
    "ARPES_FERMI_WINDOW",
    "FWHM_PER_SIGMA",
    "IR_BANDS",
    "SCHERRER_K",
    "ArpesAxes",
    "IrAxes",
    "IrBand",
    "SaxsGeometry",
    "check_exposure",
    "fermi_dirac",
    "lorentzian",
    "saxs_q_chi",
]

#: Scherrer shape factor: ring FWHM (1/nm) = 2 pi K / grain size (nm).
SCHERRER_K = 0.9
#: Energy window (eV, relative to the Fermi level) of the "intensity near E_F" reduction.
ARPES_FERMI_WINDOW = (-0.1, 0.05)
#: Full width at half maximum of a Gaussian, in standard deviations.
FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))


def check_exposure(exposure_s: float) -> float:
    """``exposure_s`` as a float; :class:`InputError` unless a positive number of seconds."""
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


# --------------------------------------------------------------------------- IR


@dataclass(frozen=True)
class IrBand:
    """A Lorentzian absorption band: ``name`` is the reduced field's name."""

    name: str
    center: float
    hwhm: float


#: The band library the IR reduction fits, and the simulated IR samples absorb in (1/cm).
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
