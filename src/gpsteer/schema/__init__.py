"""What gpsteer writes into a run's documents, defined once: the ``agent`` stream, the target.

The plans write these, the callbacks and replay read them back; each type here
both describes itself for the documents and parses itself back from them.

* :mod:`~gpsteer.schema.agent_stream`: the ``agent`` event stream (one event per
  decision, per rejected reading, and at the stop);
* :mod:`~gpsteer.schema.target`: :class:`TargetSpec`, what the model learns from
  each event.

Imports neither bluesky nor torch.
"""

from gpsteer.schema.agent_stream import STREAM, DecisionRecorder, to_json
from gpsteer.schema.target import TargetSpec

__all__ = ["STREAM", "DecisionRecorder", "TargetSpec", "to_json"]
