"""The end stations: ``saxs_stage``, ``saxs``, ``arpes_stage``, ``arpes``, ``ir_stage``, ``ir``.

Simulated stations are started (or found running, see beamline.toml) and
stopped when IPython exits; real ones are connected at their PV prefixes.
"""

import atexit

from gpsteer.session.beamline import Beamline

beamline = Beamline.from_config(beamline_config)  # noqa: F821
atexit.register(beamline.close)  # stops the IOCs this session started

for _station in beamline:
    globals()[f"{_station.kind}_stage"] = _station.stage
    globals()[_station.kind] = _station.detector
del _station
