"""The RunEngine, with the run catalog, BestEffortCallback and progress bars subscribed."""

import atexit
import logging

import bluesky.plan_stubs as bps  # noqa: F401  (for the session)
import bluesky.plans as bp  # noqa: F401
import matplotlib
from bluesky import RunEngine
from bluesky.callbacks.best_effort import BestEffortCallback
from bluesky.utils import ProgressBarManager

from gpsteer.catalog import list_runs, open_catalog  # noqa: F401
from gpsteer.errors import GpsteerError
from gpsteer.session.interrupts import InterruptibleDuringTask

# Ctrl-C pauses the run at once, whichever of the session's threads the signal reaches.
RE = RunEngine(during_task=InterruptibleDuringTask())


class _ShownByIPython(logging.Filter):
    """Drop bluesky's "Run aborted" log of a gpsteer error: IPython shows the same error
    (and its message says what to do); with the log, a failure was printed 3-4 times."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not (record.msg == "Run aborted" and isinstance(error, GpsteerError))


logging.getLogger("bluesky").addFilter(_ShownByIPython())
RE.md["beamline_id"] = "gpsteer-sim" if beamline_config.simulated else "gpsteer"  # noqa: F821

if beamline_config.catalog_uri:  # noqa: F821
    catalog = open_catalog(
        uri=beamline_config.catalog_uri,  # noqa: F821
        api_key=beamline_config.catalog_api_key,  # noqa: F821
    )
else:
    # Served on 127.0.0.1: other processes (gpsteer replay, a notebook) read it, also
    # while a run is written; they find the server through the catalog directory.
    catalog = open_catalog(beamline_config.catalog_directory, serve=True)  # noqa: F821
catalog.subscribe(RE)  # every run is stored, written off the RunEngine loop
atexit.register(catalog.close)

bec = BestEffortCallback()
RE.subscribe(bec)
if matplotlib.get_backend().lower() in ("agg", "pdf", "svg", "ps", "cairo", "template"):
    bec.disable_plots()  # no display: keep the tables, skip the figures

RE.waiting_hook = ProgressBarManager()  # a bar per motor move and long wait
