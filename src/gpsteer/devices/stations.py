"""What to map at each simulated end station: the target field and its ground truth.

Each end station of :mod:`gpsteer.sim_devices` records a frame (an image or a
spectrum) and reduces it to scalar event fields with noise variances. A map
needs one of them as the plan's ``target``; the demo and the beamline profile
use the one below, and compare the map with the same field of the hidden sample.
This module imports nothing heavy (no ophyd, no torch).
"""

from __future__ import annotations

from dataclasses import dataclass

from gpsteer.errors import UnknownNameError

__all__ = ["SAMPLE_BOUNDS", "STATIONS", "StationInfo", "station_info"]

#: The sample area of every simulated end station, mm: x and y in [-5, 5]
#: (the motors' soft limits are 1 mm wider).
SAMPLE_BOUNDS: tuple[tuple[float, float], tuple[float, float]] = ((-5.0, 5.0), (-5.0, 5.0))


@dataclass(frozen=True)
class StationInfo:
    """The default mapping target of one end station.

    Attributes
    ----------
    kind : str
        ``"saxs"``, ``"arpes"`` or ``"ir"`` (also the detector's ophyd name).
    title : str
        How people write it (``"SAXS"``).
    target : (str, str)
        The event field the agent learns and its noise-variance field, as
        :func:`~gpsteer.plans.autonomous_plan` takes them.
    truth_field : str
        The hidden sample's ground-truth field that ``target`` measures.
    label : str
        What the field is, with units, for plots and summaries.
    units : str
        The field's units (empty when it has none).
    """

    kind: str
    title: str
    target: tuple[str, str]
    truth_field: str
    label: str
    units: str


STATIONS: dict[str, StationInfo] = {
    "saxs": StationInfo(
        kind="saxs",
        title="SAXS",
        target=("saxs_q0", "saxs_q0_variance"),
        truth_field="q0",
        label="ring position q0 (1/nm)",
        units="1/nm",
    ),
    "arpes": StationInfo(
        kind="arpes",
        title="ARPES",
        target=("arpes_band_energy", "arpes_band_energy_variance"),
        truth_field="band_energy",
        label="band bottom energy (eV from E_F)",
        units="eV",
    ),
    "ir": StationInfo(
        kind="ir",
        title="IR",
        target=("ir_band_ratio", "ir_band_ratio_variance"),
        truth_field="band_ratio",
        label="band ratio 1650 / (1650 + 1050)",
        units="",
    ),
}


def station_info(kind: str) -> StationInfo:
    """The :class:`StationInfo` of ``kind``; :class:`UnknownNameError` lists the known ones."""
    try:
        return STATIONS[kind]
    except KeyError:
        raise UnknownNameError(
            f"unknown end station {kind!r}; known end stations: {sorted(STATIONS)}"
        ) from None
