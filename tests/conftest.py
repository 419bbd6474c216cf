"""Session-wide test set-up: keep EPICS Channel Access on loopback for every test.

Applied here, before any test module imports ophyd or caproto's client, so that unit
tests using ``ophyd.sim`` and system tests with IOC subprocesses never search or
listen beyond 127.0.0.1 (see :mod:`gpsteer.sim_devices.loopback`).
"""

from gpsteer.sim_devices.loopback import apply_loopback_env

apply_loopback_env()
