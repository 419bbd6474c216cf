"""The end stations gpsteer knows, and what to map at each: the one registry of kinds.

Every end station (real, or simulated by :mod:`gpsteer.sim_devices`) records a
frame (an image or a spectrum) and reduces it to scalar event fields with noise
variances (:mod:`gpsteer.devices.reductions`). A map needs one of them as the
plan's ``target``; the session, the demo and the beamline profile use the one
below. Every other table keyed by kind (detector classes, simulated samples,
IOC modules) is checked against this one. Imports nothing heavy (no ophyd, no torch).
"""

from __future__ import annotations

from dataclasses import dataclass

from gpsteer.errors import UnknownNameError

__all__ = ["STATIONS", "StationInfo", "station_info"]


@dataclass(frozen=True)
class StationInfo:
    """One kind of end station and its default mapping target.

    Attributes
    ----------
    kind : str
        ``"saxs"``, ``"arpes"`` or ``"ir"`` (also the detector's ophyd name).
    title : str
        How people write it (``"SAXS"``).
    field : str
        The reduced quantity mapped by default (``"q0"``): the detector component
        of that name, and the simulated sample's ground-truth field of that name.
    label : str
        What the field is, with units, for plots and summaries.
    units : str
        The field's units (empty when it has none).
    """

    kind: str
    title: str
    field: str
    label: str
    units: str

    @property
    def target(self) -> tuple[str, str]:
        """The event field the agent learns and its noise-variance field, as
        :func:`~gpsteer.plans.autonomous_plan` takes them (``("saxs_q0", "saxs_q0_variance")``)."""
        return f"{self.kind}_{self.field}", f"{self.kind}_{self.field}_variance"

    @property
    def truth_field(self) -> str:
        """The simulated sample's ground-truth field that :attr:`target` measures."""
        return self.field


STATIONS: dict[str, StationInfo] = {
    "saxs": StationInfo(
        kind="saxs",
        title="SAXS",
        field="q0",
        label="ring position q0 (1/nm)",
        units="1/nm",
    ),
    "arpes": StationInfo(
        kind="arpes",
        title="ARPES",
        field="band_energy",
        label="band bottom energy (eV from E_F)",
        units="eV",
    ),
    "ir": StationInfo(
        kind="ir",
        title="IR",
        field="band_ratio",
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
