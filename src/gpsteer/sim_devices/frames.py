"""Frame generators: what a simulated detector records, given the physics.

Pure functions of explicit inputs (parameters, instrument description, exposure,
``numpy.random.Generator``); no clock, no global state. The instruments
(geometry, axes, band library, line shapes) are described in
:mod:`gpsteer.devices.instruments`, which real devices share; the samples in
:mod:`gpsteer.sim_devices.samples` supply the physical parameters at a position;
the reductions in :mod:`gpsteer.devices.reductions` invert these models.

Frames are small (64 x 64 images, 256-point spectra) so a Channel Access transfer
takes well under a millisecond on loopback.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from gpsteer._names import moved_names, names_of
from gpsteer.devices.instruments import (
    FWHM_PER_SIGMA,
    IR_BANDS,
    ArpesAxes,
    IrAxes,
    IrBand,
    SaxsGeometry,
    check_exposure,
    fermi_dirac,
    lorentzian,
    saxs_q_chi,
)
from gpsteer.errors import InputError

__all__ = [
    "arpes_expected_rate",
    "arpes_frame",
    "ir_expected_absorbance",
    "ir_spectrum",
    "saxs_expected_rate",
    "saxs_frame",
]

# --------------------------------------------------------------------------- SAXS


def saxs_expected_rate(params: Mapping[str, float], geometry: SaxsGeometry) -> np.ndarray:
    """Expected counts per second in each pixel.

    ``params`` holds ``q0`` (1/nm), ``peak_width`` (ring FWHM in q), ``anisotropy``
    (0 <= a < 1), ``orientation`` (rad), ``intensity`` (ring area in the azimuthal
    average, counts/s/pixel * 1/nm), ``porod`` (B in B/q^4) and ``background``
    (flat counts/s/pixel). The ring is a Gaussian in q times 1 + a cos 2(chi - phi),
    so its azimuthal average has area ``intensity`` exactly.
    """
    q, chi, r_px = saxs_q_chi(geometry)
    sigma = float(params["peak_width"]) / FWHM_PER_SIGMA
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
    exposure_s = check_exposure(exposure_s)
    return rng.poisson(saxs_expected_rate(params, geometry) * exposure_s).astype(np.int32)


# --------------------------------------------------------------------------- ARPES


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
    exposure_s = check_exposure(exposure_s)
    return rng.poisson(arpes_expected_rate(params, axes) * exposure_s).astype(np.int32)


# --------------------------------------------------------------------------- IR


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
    exposure_s = check_exposure(exposure_s)
    clean = ir_expected_absorbance(params, axes, bands)
    noise = axes.noise_std_1s / np.sqrt(exposure_s)
    return clean + rng.normal(0.0, noise, size=clean.shape)


#: Instrument constants that moved to :mod:`gpsteer.devices.instruments` (old path, one release).
__getattr__ = moved_names(
    __name__, names_of("gpsteer.devices.instruments", ["ARPES_FERMI_WINDOW", "SCHERRER_K"])
)
