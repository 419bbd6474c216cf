"""One-step plan pieces (Bluesky's ``plan_stubs`` vocabulary) that gpsteer's plans are built of.

* :func:`wait_for_future` (:mod:`~gpsteer.plan_stubs.futures`): wait for a
  ``concurrent.futures`` or Dask future through RunEngine messages, so the loop
  keeps running (pause, suspenders, Ctrl-C).
"""

from gpsteer.plan_stubs.futures import FutureLike, wait_for_future

__all__ = ["FutureLike", "wait_for_future"]
