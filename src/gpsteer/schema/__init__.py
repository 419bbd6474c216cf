"""What gpsteer writes into a run's documents, defined once: the ``agent`` stream, the target.

The plans write these, the callbacks and replay read them back; each type here
both describes itself for the documents and parses itself back from them.

* :mod:`~gpsteer.schema.agent_stream`: the ``agent`` event stream (one event per
  decision, per rejected reading, and at the stop);
* :mod:`~gpsteer.schema.run_start`: :class:`RunStart`, what the start document
  holds (space, target, agent configuration, budgets, the run resumed);
* :mod:`~gpsteer.schema.target`: :class:`TargetSpec`, what the model learns from
  each event.

Imports neither bluesky nor torch.
"""

from gpsteer.schema.agent_stream import STREAM, DecisionRecord, DecisionRecorder, to_json
from gpsteer.schema.run_start import Axis, RunStart
from gpsteer.schema.target import TargetSpec

__all__ = [
    "STREAM",
    "Axis",
    "DecisionRecord",
    "DecisionRecorder",
    "RunStart",
    "TargetSpec",
    "to_json",
]
