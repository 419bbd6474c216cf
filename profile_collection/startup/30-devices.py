"""The end stations: ``saxs_stage``, ``saxs``, ``arpes_stage``, ``arpes``, ``ir_stage``, ``ir``.

Simulated stations are started (or found running, see beamline.toml) and
stopped when IPython exits; real ones are connected at their PV prefixes.
"""

import atexit

from gpsteer.session.beamline import Beamline

# A station that does not start or connect is left out, and said so in one line: the
# session starts with what connects (plans, agents and the other stations work).
beamline = Beamline.from_config(beamline_config, skip_failed=True)  # noqa: F821
atexit.register(beamline.close)  # stops the IOCs this session started
if beamline.failed:
    print(f"gpsteer: {beamline.describe_failed()}")

for _station in beamline:
    globals()[f"{_station.kind}_stage"] = _station.stage
    globals()[_station.kind] = _station.detector
del _station
