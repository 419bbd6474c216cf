"""Layer 5: gpsteer inside Bluesky — plans, the run catalog, and the RunEngine helpers they use.

``import gpsteer.plans`` stays light: tiled and the catalog machinery are imported
only when a catalog is opened, torch only when an agent is built.
"""

from gpsteer.plans.autonomous import autonomous_plan
from gpsteer.plans.callback import AgentFeeder, Rejection
from gpsteer.plans.catalog import (
    BackgroundWriter,
    Catalog,
    RunSummary,
    default_catalog_directory,
    list_runs,
    open_catalog,
    run_documents,
)
from gpsteer.plans.execution import StopReason
from gpsteer.plans.futures import FutureLike, wait_for_future
from gpsteer.plans.live_plot import LiveAgentPlot, plot_map
from gpsteer.plans.loop_monitor import LoopLatency, LoopMonitor
from gpsteer.plans.progress import Progress
from gpsteer.plans.recorder import DecisionRecorder
from gpsteer.plans.replay import DecisionRecord, read_decisions, replay, resume_plan

__all__ = [
    "AgentFeeder",
    "BackgroundWriter",
    "Catalog",
    "DecisionRecord",
    "DecisionRecorder",
    "FutureLike",
    "LiveAgentPlot",
    "LoopLatency",
    "LoopMonitor",
    "Progress",
    "Rejection",
    "RunSummary",
    "StopReason",
    "autonomous_plan",
    "default_catalog_directory",
    "list_runs",
    "open_catalog",
    "plot_map",
    "read_decisions",
    "replay",
    "resume_plan",
    "run_documents",
    "wait_for_future",
]
