"""The beamline session: its configuration, and the end stations it starts or connects.

What the IPython beamline profile (``profile_collection/``) and the demo build on:

* :mod:`~gpsteer.session.config`: the session's configuration (``beamline.toml``
  and ``GPSTEER_*`` environment variables), checked when it is read;
* :mod:`~gpsteer.session.beamline`: :class:`Beamline`, the end stations of a
  session: simulated IOCs started (or found) and connected, or real PVs
  connected, and stopped at the end.

Importing this package imports neither ophyd nor torch; :class:`Beamline` imports
ophyd when it connects a station.
"""

from gpsteer.session.beamline import Beamline, Station
from gpsteer.session.config import BeamlineConfig, StationConfig, load_config

__all__ = ["Beamline", "BeamlineConfig", "Station", "StationConfig", "load_config"]
