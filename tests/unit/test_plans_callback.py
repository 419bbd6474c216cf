"""AgentFeeder: event documents in, observations told to a real Agent out.

Documents are built with event-model's composers, as a RunEngine would emit them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from event_model import compose_run, pack_event_page

from gpsteer import Agent
from gpsteer.callbacks import AgentFeeder
from gpsteer.errors import UnknownNameError
from gpsteer.schema import TargetSpec

KEYS = {
    "x": {"source": "sim", "dtype": "number", "shape": []},
    "y": {"source": "sim", "dtype": "number", "shape": []},
    "det": {"source": "sim", "dtype": "number", "shape": []},
    "det_var": {"source": "sim", "dtype": "number", "shape": []},
}


class Run:
    """A run being composed: start, a primary and a baseline descriptor, events."""

    def __init__(self, feeder: AgentFeeder) -> None:
        self.feeder = feeder
        self.bundle = compose_run()
        feeder("start", self.bundle.start_doc)
        self.primary = self.bundle.compose_descriptor(name="primary", data_keys=KEYS)
        feeder("descriptor", self.primary.descriptor_doc)
        self.other = self.bundle.compose_descriptor(name="baseline", data_keys=KEYS)
        feeder("descriptor", self.other.descriptor_doc)

    def event(
        self,
        seq_num: int,
        x: float,
        y: float,
        det: float,
        var: float = 0.01,
        stream: str = "primary",
    ) -> dict[str, Any]:
        compose = (self.primary if stream == "primary" else self.other).compose_event
        data = {"x": x, "y": y, "det": det, "det_var": var}
        doc = compose(data=data, timestamps=dict.fromkeys(data, 0.0), seq_num=seq_num)
        return doc


def _agent() -> Agent:
    return Agent(bounds=[(0, 1), (0, 1)], train_schedule="never", seed=0)


def test_events_become_observations_and_are_told() -> None:
    agent = _agent()
    feeder = AgentFeeder(agent, ["x", "y"], TargetSpec(field="det"), bounds=[(0, 1), (0, 1)])
    run = Run(feeder)
    feeder("event", run.event(1, 0.1, 0.2, 3.0))
    feeder("event", run.event(2, 0.5, 0.6, 4.0))
    feeder("event", run.event(1, 0.9, 0.9, 9.0, stream="baseline"))  # another stream
    assert agent.n == 2 and feeder.told == 2
    np.testing.assert_array_equal(agent.X, [[0.1, 0.2], [0.5, 0.6]])
    np.testing.assert_array_equal(agent.y, [3.0, 4.0])


def test_a_re_taken_point_is_told_once() -> None:
    agent = _agent()
    feeder = AgentFeeder(agent, ["x", "y"], TargetSpec(field="det"))
    run = Run(feeder)
    feeder("event", run.event(1, 0.1, 0.2, 3.0))
    feeder("event", run.event(1, 0.1, 0.2, 3.1))  # same seq_num after a pause
    assert agent.n == 1 and feeder.duplicates == 1
    assert agent.y.tolist() == [3.0]


def test_bad_readings_are_recorded_rejections() -> None:
    agent = _agent()
    feeder = AgentFeeder(
        agent,
        ["x", "y"],
        TargetSpec(field="det", variance_field="det_var"),
        bounds=[(0, 1), (0, 1)],
    )
    run = Run(feeder)
    feeder("event", run.event(1, 0.1, 0.2, math.nan))
    feeder("event", run.event(2, 0.1, 0.2, 1.0, var=-1.0))
    feeder("event", run.event(3, 1.5, 0.2, 1.0))  # readback far outside the bounds
    feeder("event", run.event(4, 1.0005, 0.2, 1.0))  # a hair outside: accepted as measured
    assert [r.seq_num for r in feeder.rejected] == [1, 2, 3]
    assert "target value is nan" in feeder.rejected[0].reason
    assert agent.n == 1
    assert agent.X[0, 0] == 1.0005
    np.testing.assert_array_equal(feeder.noise_variance, [0.01])


def test_deferred_observations_wait_for_flush() -> None:
    agent = _agent()
    feeder = AgentFeeder(agent, ["x", "y"], TargetSpec(field="det"), defer=True)
    run = Run(feeder)
    for i in range(3):
        feeder("event", run.event(i + 1, 0.1 * i, 0.2, float(i)))
    assert agent.n == 0 and feeder.n == 3
    assert feeder.flush() == 3
    assert agent.n == 3 and feeder.flush() == 0


def test_event_pages_are_unpacked() -> None:
    agent = _agent()
    feeder = AgentFeeder(agent, ["x", "y"], TargetSpec(field="det"))
    run = Run(feeder)
    page = pack_event_page(run.event(1, 0.1, 0.1, 1.0), run.event(2, 0.2, 0.2, 2.0))
    feeder("event_page", page)
    assert agent.y.tolist() == [1.0, 2.0]


def test_a_stream_without_the_fields_is_an_error() -> None:
    feeder = AgentFeeder(None, ["x", "z"], TargetSpec(field="det"))
    bundle = compose_run()
    feeder("start", bundle.start_doc)
    with pytest.raises(UnknownNameError, match=r"no field\(s\) \['z'\]"):
        feeder(
            "descriptor", bundle.compose_descriptor(name="primary", data_keys=KEYS).descriptor_doc
        )


def test_without_an_agent_it_only_collects() -> None:
    feeder = AgentFeeder(None, ["x", "y"], TargetSpec(field="det"))
    run = Run(feeder)
    feeder("event", run.event(1, 0.3, 0.4, 5.0))
    assert feeder.X.tolist() == [[0.3, 0.4]] and feeder.y.tolist() == [5.0]
    assert feeder.noise_variance is None and feeder.flush() == 0
