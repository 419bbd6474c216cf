"""The end stations' devices, for real PV prefixes: ophyd devices and the reductions they run.

* :mod:`~gpsteer.devices.stations`: the kinds of end station (SAXS, ARPES, IR) and
  what to map at each, the one registry every other table follows;
* :mod:`~gpsteer.devices.instruments`: detector geometry, axes, band library and
  line shapes (pure);
* :mod:`~gpsteer.devices.reductions` (with :mod:`~gpsteer.devices.fitting`):
  frames -> scalars with noise variances (pure numpy);
* :mod:`~gpsteer.devices.end_stations`: the ophyd devices (``XYStage``,
  ``SaxsDetector``, ...) and :func:`end_station`, which connects one.

The simulated end stations of :mod:`gpsteer.sim_devices` serve the same PVs, so
the same classes talk to both. Importing this package does not import ophyd: the
device classes are loaded on first use (``gpsteer.devices.SaxsDetector``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from gpsteer.devices.stations import STATIONS, StationInfo, station_info

if TYPE_CHECKING:
    from gpsteer.devices.end_stations import (
        AcquisitionControl,
        ArpesAnalyser,
        IrSpectrometer,
        ReducingDetector,
        SaxsDetector,
        XYStage,
        end_station,
    )

__all__ = [
    "STATIONS",
    "AcquisitionControl",
    "ArpesAnalyser",
    "IrSpectrometer",
    "ReducingDetector",
    "SaxsDetector",
    "StationInfo",
    "XYStage",
    "end_station",
    "station_info",
]

#: Names that import ophyd, loaded from :mod:`gpsteer.devices.end_stations` on first use.
_OPHYD_NAMES = {
    "AcquisitionControl",
    "ArpesAnalyser",
    "IrSpectrometer",
    "ReducingDetector",
    "SaxsDetector",
    "XYStage",
    "end_station",
}


def __getattr__(name: str) -> Any:
    if name in _OPHYD_NAMES:
        value = getattr(importlib.import_module("gpsteer.devices.end_stations"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'gpsteer.devices' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
