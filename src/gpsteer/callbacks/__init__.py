"""What watches a run: Bluesky document callbacks, and a monitor of the RunEngine's loop.

* :class:`AgentFeeder` (:mod:`~gpsteer.callbacks.feeder`): teaches an agent from
  a run's measurement events, live or replayed;
* :class:`LiveAgentPlot`, :func:`plot_map` (:mod:`~gpsteer.callbacks.live_plot`):
  the agent's map as the run goes, and after it;
* :class:`LoopMonitor` (:mod:`~gpsteer.callbacks.loop_monitor`): how long the
  RunEngine's event loop was kept from running (pause, suspenders, Ctrl-C wait
  on it).
"""

from gpsteer.callbacks.feeder import AgentFeeder, Rejection
from gpsteer.callbacks.live_plot import LiveAgentPlot, plot_map
from gpsteer.callbacks.loop_monitor import LoopLatency, LoopMonitor

__all__ = ["AgentFeeder", "LiveAgentPlot", "LoopLatency", "LoopMonitor", "Rejection", "plot_map"]
