"""Ophyd devices of the SAXS, ARPES and IR end stations, for real PV prefixes.

* :class:`XYStage`: two ``EpicsMotor`` (``{prefix}x``, ``{prefix}y``);
* :class:`SaxsDetector`, :class:`ArpesAnalyser`, :class:`IrSpectrometer`:
  ``trigger()`` puts ``Acquire`` = 1 with put-completion (the exposure), checks that
  ``ArrayCounter_RBV`` advanced (a *fresh* frame, not a stale monitor value),
  fetches the data with a direct CA read, and computes the reductions of
  :mod:`gpsteer.devices.reductions` off the RunEngine's event loop. ``read()``
  then holds the array plus ordinary scalar fields, e.g. ``saxs_q0`` and
  ``saxs_q0_variance``, usable as a plan's ``target``.

Against hardware, keep the beamline's EPICS environment and point the classes at
the real prefixes (subclass to rename a component's suffix if a site's PV names
differ). The simulated end stations of :mod:`gpsteer.sim_devices` serve the same
PVs: call :func:`~gpsteer.sim_devices.loopback.apply_loopback_env` before importing
this module (it imports ophyd) to talk to them.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

import numpy as np
from ophyd import Component as Cpt
from ophyd import Device, EpicsMotor, EpicsSignal, EpicsSignalRO, Signal
from ophyd.areadetector.base import EpicsSignalWithRBV
from ophyd.status import DeviceStatus

from gpsteer.devices import reductions
from gpsteer.devices.instruments import IR_BANDS, SaxsGeometry
from gpsteer.devices.stations import station_info
from gpsteer.errors import DeviceError

__all__ = [
    "AcquisitionControl",
    "ArpesAnalyser",
    "IrSpectrometer",
    "ReducingDetector",
    "SaxsDetector",
    "XYStage",
    "end_station",
]


class XYStage(Device):
    """Sample stage: motor records ``{prefix}x`` and ``{prefix}y`` (mm)."""

    x = Cpt(EpicsMotor, "x", kind="hinted")
    y = Cpt(EpicsMotor, "y", kind="hinted")


class AcquisitionControl(Device):
    """areaDetector-style acquisition PVs (``Acquire``, ``AcquireTime``, ...)."""

    acquire = Cpt(EpicsSignal, "Acquire", put_complete=True, kind="omitted")
    acquire_time = Cpt(EpicsSignalWithRBV, "AcquireTime", kind="config")
    array_counter = Cpt(EpicsSignalRO, "ArrayCounter_RBV", kind="omitted")


def _reduced(doc: str, hinted: bool = False) -> Cpt:
    """A soft signal that holds one reduced value (NaN until the first trigger)."""
    return Cpt(Signal, value=float("nan"), kind="hinted" if hinted else "normal", doc=doc)


class ReducingDetector(Device):
    """Trigger = expose with put-completion, check freshness, fetch, reduce.

    Subclasses provide ``acq`` (an :class:`AcquisitionControl`), :meth:`_fetch`
    (CA reads of the raw data), :meth:`_reduce` (raw -> {component: value}) and
    :meth:`_array_shapes` (for ``describe`` before the first frame).
    """

    acq: AcquisitionControl
    #: The end-station kind it reads (a key of :data:`~gpsteer.devices.stations.STATIONS`).
    kind: ClassVar[str]
    #: Seconds allowed beyond the exposure time for a frame to arrive.
    trigger_timeout = 10.0

    def trigger(self) -> DeviceStatus:
        """Acquire one frame; the status completes once reductions are set."""
        status = DeviceStatus(self)
        worker = threading.Thread(
            target=self._acquire_and_reduce, args=(status,), daemon=True, name=f"{self.name}-acq"
        )
        worker.start()
        return status

    def _acquire_and_reduce(self, status: DeviceStatus) -> None:
        try:
            before = int(self.acq.array_counter.get(use_monitor=False))
            exposure_s = float(self.acq.acquire_time.get(use_monitor=False))
            done = self.acq.acquire.set(1)
            done.wait(timeout=exposure_s + self.trigger_timeout)
            after = int(self.acq.array_counter.get(use_monitor=False))
            if after <= before:
                raise DeviceError(
                    f"{self.name}: Acquire completed but ArrayCounter_RBV stayed at {after}; "
                    "no fresh frame. Check that the detector IOC is running and not in error."
                )
            raw = self._fetch()
            for attr, value in self._reduce(raw, exposure_s).items():
                getattr(self, attr).put(value)
        except Exception as exc:  # handed to the RunEngine through the status
            status.set_exception(exc)
        else:
            status.set_finished()

    def describe(self) -> dict[str, dict[str, Any]]:
        """Describe, with array shapes known before the first frame."""
        desc = super().describe()
        for attr, (shape, dtype) in self._array_shapes().items():
            key = getattr(self, attr).name
            if key in desc:
                desc[key].update(dtype="array", shape=list(shape), dtype_numpy=np.dtype(dtype).str)
        return desc

    def _fetch(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _reduce(self, raw: dict[str, np.ndarray], exposure_s: float) -> dict[str, Any]:
        raise NotImplementedError

    def _array_shapes(self) -> dict[str, tuple[tuple[int, ...], str]]:
        raise NotImplementedError


def _fields(reduction: Any) -> dict[str, float]:
    return {key: float(value) for key, value in reduction.as_fields().items()}


class SaxsDetector(ReducingDetector):
    """SAXS area detector (``cam1:``, ``image1:``, ``geom:`` PVs) with reductions.

    Fields: ``image`` (counts, rows x columns) and ``intensity``, ``q0``,
    ``peak_width``, ``grain_size``, ``anisotropy``, ``orientation``, each with
    ``<name>_variance`` (see :func:`~gpsteer.devices.reductions.reduce_saxs`).
    """

    kind = "saxs"

    acq = Cpt(AcquisitionControl, "cam1:", kind="config")
    array_data = Cpt(EpicsSignalRO, "image1:ArrayData", kind="omitted")
    size_x = Cpt(EpicsSignalRO, "cam1:SizeX_RBV", kind="config")
    size_y = Cpt(EpicsSignalRO, "cam1:SizeY_RBV", kind="config")
    beam_center_x = Cpt(EpicsSignalRO, "geom:BeamCenterX", kind="config")
    beam_center_y = Cpt(EpicsSignalRO, "geom:BeamCenterY", kind="config")
    pixel_size = Cpt(EpicsSignalRO, "geom:PixelSize", kind="config")
    distance = Cpt(EpicsSignalRO, "geom:Distance", kind="config")
    wavelength = Cpt(EpicsSignalRO, "geom:Wavelength", kind="config")
    beamstop_radius = Cpt(EpicsSignalRO, "geom:BeamstopRadius", kind="config")

    image = Cpt(Signal, value=np.zeros((0, 0), dtype=np.int32), kind="normal")
    intensity = _reduced("ring area in the azimuthal average, counts/s/pixel*1/nm", True)
    intensity_variance = _reduced("variance of intensity")
    q0 = _reduced("ring position q0 = 2 pi / d, 1/nm", True)
    q0_variance = _reduced("variance of q0")
    peak_width = _reduced("ring FWHM, 1/nm")
    peak_width_variance = _reduced("variance of peak_width")
    grain_size = _reduced("Scherrer grain size, nm")
    grain_size_variance = _reduced("variance of grain_size")
    anisotropy = _reduced("second-harmonic amplitude of the ring, 0..1")
    anisotropy_variance = _reduced("variance of anisotropy")
    orientation = _reduced("ring orientation, rad in (-pi/2, pi/2]")
    orientation_variance = _reduced("variance of orientation")

    def geometry(self) -> SaxsGeometry:
        """Detector calibration from the ``geom:`` and size PVs."""
        return SaxsGeometry(
            shape=(int(self.size_y.get()), int(self.size_x.get())),
            beam_center=(float(self.beam_center_x.get()), float(self.beam_center_y.get())),
            pixel_size_mm=float(self.pixel_size.get()),
            distance_mm=float(self.distance.get()),
            wavelength_nm=float(self.wavelength.get()),
            beamstop_radius_px=float(self.beamstop_radius.get()),
        )

    def _fetch(self) -> dict[str, np.ndarray]:
        return {"image": np.asarray(self.array_data.get(use_monitor=False))}

    def _reduce(self, raw: dict[str, np.ndarray], exposure_s: float) -> dict[str, Any]:
        geometry = self.geometry()
        image = raw["image"].reshape(geometry.shape)
        fields = _fields(reductions.reduce_saxs(image, geometry, exposure_s))
        return {"image": image, **fields}

    def _array_shapes(self) -> dict[str, tuple[tuple[int, ...], str]]:
        return {"image": ((int(self.size_y.get()), int(self.size_x.get())), "int32")}


class ArpesAnalyser(ReducingDetector):
    """Hemispherical analyser (``analyser:`` PVs) with reductions.

    Fields: ``image`` (counts, energies x angles) and ``intensity`` (near E_F),
    ``band_energy``, ``linewidth``, ``band_weight``, each with ``<name>_variance``
    (see :func:`~gpsteer.devices.reductions.reduce_arpes`).
    """

    kind = "arpes"

    acq = Cpt(AcquisitionControl, "analyser:", kind="config")
    raw_image = Cpt(EpicsSignalRO, "analyser:Image", kind="omitted")
    energy_axis = Cpt(EpicsSignalRO, "analyser:EnergyAxis", kind="config")
    angle_axis = Cpt(EpicsSignalRO, "analyser:AngleAxis", kind="config")
    edge_width = Cpt(EpicsSignalRO, "analyser:EdgeWidth_RBV", kind="config")

    image = Cpt(Signal, value=np.zeros((0, 0), dtype=np.int32), kind="normal")
    intensity = _reduced("mean counts/s per pixel near the Fermi level", True)
    intensity_variance = _reduced("variance of intensity")
    band_energy = _reduced("band bottom at normal emission, eV relative to E_F", True)
    band_energy_variance = _reduced("variance of band_energy")
    linewidth = _reduced("Lorentzian HWHM of the band, eV")
    linewidth_variance = _reduced("variance of linewidth")
    band_weight = _reduced("fitted band weight, counts/s")
    band_weight_variance = _reduced("variance of band_weight")

    def _fetch(self) -> dict[str, np.ndarray]:
        return {
            "image": np.asarray(self.raw_image.get(use_monitor=False)),
            "energy": np.asarray(self.energy_axis.get(), dtype=float),
            "angle": np.asarray(self.angle_axis.get(), dtype=float),
        }

    def _reduce(self, raw: dict[str, np.ndarray], exposure_s: float) -> dict[str, Any]:
        energy, angle = raw["energy"], raw["angle"]
        image = raw["image"].reshape(len(energy), len(angle))
        reduced = reductions.reduce_arpes(
            image, energy, angle, exposure_s, edge_width_ev=float(self.edge_width.get())
        )
        return {"image": image, **_fields(reduced)}

    def _array_shapes(self) -> dict[str, tuple[tuple[int, ...], str]]:
        shape = (len(self.energy_axis.get()), len(self.angle_axis.get()))
        return {"image": (shape, "int32")}


class IrSpectrometer(ReducingDetector):
    """IR spectrometer (``spec:`` PVs) with band-area reductions.

    Fields: ``spectrum`` (absorbance) and one area per band of
    :data:`~gpsteer.devices.instruments.IR_BANDS` (``band_1650``, ...), ``band_ratio``
    = band_1650 / (band_1650 + band_1050), each with ``<name>_variance``, and
    ``noise_variance`` (see :func:`~gpsteer.devices.reductions.reduce_ir`).
    """

    kind = "ir"

    acq = Cpt(AcquisitionControl, "spec:", kind="config")
    raw_spectrum = Cpt(EpicsSignalRO, "spec:Spectrum", kind="omitted")
    wavenumber = Cpt(EpicsSignalRO, "spec:Wavenumber", kind="config")

    spectrum = Cpt(Signal, value=np.zeros(0), kind="normal")
    band_1050 = _reduced("band area at 1050/cm")
    band_1050_variance = _reduced("variance of band_1050")
    band_1240 = _reduced("band area at 1240/cm")
    band_1240_variance = _reduced("variance of band_1240")
    band_1540 = _reduced("band area at 1540/cm")
    band_1540_variance = _reduced("variance of band_1540")
    band_1650 = _reduced("band area at 1650/cm")
    band_1650_variance = _reduced("variance of band_1650")
    band_1730 = _reduced("band area at 1730/cm", True)
    band_1730_variance = _reduced("variance of band_1730")
    band_ratio = _reduced("band_1650 / (band_1650 + band_1050)", True)
    band_ratio_variance = _reduced("variance of band_ratio")
    noise_variance = _reduced("absorbance noise variance, from the fit residuals")

    #: The band library the reduction fits; one component per band above.
    bands = IR_BANDS

    def _fetch(self) -> dict[str, np.ndarray]:
        return {
            "spectrum": np.asarray(self.raw_spectrum.get(use_monitor=False), dtype=float),
            "wavenumber": np.asarray(self.wavenumber.get(), dtype=float),
        }

    def _reduce(self, raw: dict[str, np.ndarray], exposure_s: float) -> dict[str, Any]:
        reduced = reductions.reduce_ir(raw["wavenumber"], raw["spectrum"], bands=self.bands)
        return {"spectrum": raw["spectrum"], **_fields(reduced)}

    def _array_shapes(self) -> dict[str, tuple[tuple[int, ...], str]]:
        return {"spectrum": ((len(self.wavenumber.get()),), "float64")}


_DETECTORS: dict[str, type[ReducingDetector]] = {
    cls.kind: cls for cls in (SaxsDetector, ArpesAnalyser, IrSpectrometer)
}


def end_station(
    kind: str, prefix: str, *, connect: bool = True, timeout: float = 10.0
) -> tuple[XYStage, ReducingDetector]:
    """The stage and detector of one end station, named ``<kind>_stage`` and ``<kind>``.

    With ``connect`` (default), wait up to ``timeout`` s for every PV.
    """
    station_info(kind)  # an unknown kind: the error lists the known ones
    stage = XYStage(prefix, name=f"{kind}_stage")
    detector = _DETECTORS[kind](prefix, name=kind)
    if connect:
        try:
            stage.wait_for_connection(timeout=timeout)
            detector.wait_for_connection(timeout=timeout)
        except TimeoutError as exc:
            raise DeviceError(
                f"could not connect to the {kind} end station at prefix {prefix!r} within "
                f"{timeout} s: {exc}. Is the IOC running, and is its port in "
                "EPICS_CA_ADDR_LIST?"
            ) from exc
    return stage, detector
