"""Simulated SAXS, ARPES and IR end stations: caproto IOCs with hidden samples.

The simulation, and nothing else: the devices that talk to these IOCs are the
real ones (:mod:`gpsteer.devices`), since the IOCs serve the same PVs. The pieces,
from the bottom:

* :mod:`~gpsteer.sim_devices.loopback`: the EPICS environment for loopback-only CA
  (apply it before importing ophyd);
* :mod:`~gpsteer.sim_devices.samples` and :mod:`~gpsteer.sim_devices.frames`:
  hidden samples with ground truth and the frames a detector records (pure);
* :mod:`~gpsteer.sim_devices.motor`, :mod:`~gpsteer.sim_devices.saxs_ioc`,
  :mod:`~gpsteer.sim_devices.arpes_ioc`, :mod:`~gpsteer.sim_devices.ir_ioc`: the
  caproto IOCs (``gpsteer sim saxs|arpes|ir``);
* :mod:`~gpsteer.sim_devices.launcher`: IOCs in subprocesses for tests and demos.

This package imports neither ophyd nor caproto, so
``from gpsteer.sim_devices import apply_loopback_env`` is safe to run first.
(``gpsteer.sim_devices.devices``, ``.reductions`` and ``.fitting`` are the old
paths of :mod:`gpsteer.devices`, kept for one release with a DeprecationWarning.)
See docs/reference/end_stations.md.
"""

from gpsteer._names import moved_module
from gpsteer.sim_devices.loopback import apply_loopback_env, find_free_port
from gpsteer.sim_devices.samples import (
    ArpesSample,
    Domain,
    IrSample,
    SaxsSample,
    make_sample,
)

__all__ = [
    "ArpesSample",
    "Domain",
    "IrSample",
    "SaxsSample",
    "apply_loopback_env",
    "find_free_port",
    "make_sample",
]


# The real devices' old paths (one release): see gpsteer.devices.
for _old in ("devices", "reductions", "fitting"):
    _new = "end_stations" if _old == "devices" else _old
    moved_module(f"{__name__}.{_old}", f"gpsteer.devices.{_new}")
del _old, _new
