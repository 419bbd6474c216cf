"""Layer 5: gpsteer inside Bluesky — plans, the run catalog, and the RunEngine helpers they use.

``import gpsteer.plans`` stays light: tiled and the catalog machinery are imported
only when a catalog is opened.
"""

from gpsteer.plans.catalog import (
    BackgroundWriter,
    Catalog,
    RunSummary,
    default_catalog_directory,
    list_runs,
    open_catalog,
    run_documents,
)
from gpsteer.plans.futures import FutureLike, wait_for_future
from gpsteer.plans.loop_monitor import LoopLatency, LoopMonitor

__all__ = [
    "BackgroundWriter",
    "Catalog",
    "FutureLike",
    "LoopLatency",
    "LoopMonitor",
    "RunSummary",
    "default_catalog_directory",
    "list_runs",
    "open_catalog",
    "run_documents",
    "wait_for_future",
]
