"""One-step plan pieces (Bluesky's ``plan_stubs`` vocabulary) that gpsteer's plans are built of.

* :func:`wait_for_future` (:mod:`~gpsteer.plan_stubs.futures`): wait for a
  ``concurrent.futures`` or Dask future through RunEngine messages, so the loop
  keeps running (pause, suspenders, Ctrl-C);
* :func:`move_and_read` (:mod:`~gpsteer.plan_stubs.measure`): one measurement,
  with device failures raised as a :class:`~gpsteer.errors.DeviceError` that
  names the device;
* :func:`record_decision` (:mod:`~gpsteer.plan_stubs.record`): one event of the
  run's ``agent`` stream.
"""

from gpsteer.plan_stubs.futures import FutureLike, wait_for_future
from gpsteer.plan_stubs.measure import device_error, move_and_read
from gpsteer.plan_stubs.record import record_decision

__all__ = ["FutureLike", "device_error", "move_and_read", "record_decision", "wait_for_future"]
