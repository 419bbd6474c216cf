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

from gpsteer._names import lazy_names, names_of
from gpsteer.devices.stations import STATIONS, StationInfo, station_info

#: The ophyd devices, loaded from :mod:`gpsteer.devices.end_stations` on first use.
_DEVICE_NAMES = (
    "AcquisitionControl",
    "ArpesAnalyser",
    "IrSpectrometer",
    "ReducingDetector",
    "SaxsDetector",
    "XYStage",
    "end_station",
)
__all__ = ["STATIONS", "StationInfo", "station_info", *_DEVICE_NAMES]

__getattr__, __dir__ = lazy_names(__name__, names_of("gpsteer.devices.end_stations", _DEVICE_NAMES))
