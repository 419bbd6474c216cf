"""Layer 5: gpsteer's Bluesky plans: ``autonomous_plan`` and ``resume_plan``.

Users write ``from gpsteer.plans import autonomous_plan``. What the plans are built
of lives beside them: :mod:`gpsteer.plan_stubs` (one-step pieces),
:mod:`gpsteer.callbacks` (the document callback that feeds the agent, live plots),
:mod:`gpsteer.catalog` (storing runs, replaying them) and :mod:`gpsteer.schema`
(what a run records). The names this package used to export from those still
import from here for one release, with a DeprecationWarning.
"""

from gpsteer._names import moved_names, names_of
from gpsteer.plans.autonomous import autonomous_plan
from gpsteer.plans.resume import resume_plan

__all__ = ["autonomous_plan", "resume_plan"]

__getattr__ = moved_names(
    __name__,
    {
        **names_of("gpsteer.callbacks", ["AgentFeeder", "Rejection", "LiveAgentPlot", "plot_map"]),
        **names_of("gpsteer.callbacks", ["LoopLatency", "LoopMonitor"]),
        **names_of(
            "gpsteer.catalog",
            [
                "BackgroundWriter",
                "Catalog",
                "RunSummary",
                "default_catalog_directory",
                "list_runs",
                "open_catalog",
                "read_decisions",
                "replay",
                "run_documents",
            ],
        ),
        **names_of("gpsteer.plan_stubs", ["FutureLike", "wait_for_future"]),
        **names_of("gpsteer.agent.stopping", ["StopReason"]),
        **names_of("gpsteer.agent.progress", ["Progress"]),
        **names_of("gpsteer.schema", ["DecisionRecord", "DecisionRecorder"]),
    },
)
