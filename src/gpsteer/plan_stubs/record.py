"""Record one decision of the agent in the run's ``agent`` event stream."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import bluesky.plan_stubs as bps
from bluesky.utils import Msg

from gpsteer.schema.agent_stream import STREAM, DecisionRecord, DecisionRecorder

__all__ = ["record_decision"]


def record_decision(
    recorder: DecisionRecorder, record: DecisionRecord
) -> Generator[Msg, Any, None]:
    """Emit ``record`` as one event of the ``agent`` stream, then checkpoint."""
    recorder.record = record
    yield from bps.create(STREAM)
    yield from bps.read(recorder)
    yield from bps.save()
    yield from bps.checkpoint()
