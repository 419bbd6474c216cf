"""The agent stream's readable and its JSON: stable keys, exact floats."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from bluesky.protocols import Readable

from gpsteer.schema import DecisionRecorder
from gpsteer.schema.agent_stream import to_json


def test_the_recorder_is_a_readable_with_one_field_per_motor() -> None:
    recorder = DecisionRecorder(["motor1", "motor2"])
    assert isinstance(recorder, Readable)
    assert recorder.name == "agent"
    description, reading = recorder.describe(), recorder.read()
    assert set(description) == set(reading)
    assert {"agent_motor1", "agent_motor2", "agent_state", "agent_stop_reason"} <= set(reading)
    assert description["agent_decision"]["dtype"] == "integer"
    assert description["agent_fallback"]["dtype"] == "boolean"
    assert description["agent_message"]["dtype"] == "string"
    assert description["agent_predicted_std"]["dtype"] == "number"
    assert all(d["shape"] == [] for d in description.values())


def test_recorded_values_keep_their_types() -> None:
    recorder = DecisionRecorder(["m"])
    recorder.record(
        decision=np.int64(3), predicted_std=np.float32(0.5), fallback=True, message="ok"
    )
    recorder.record_position([1.25])
    values = {k: v["value"] for k, v in recorder.read().items()}
    assert values["agent_decision"] == 3 and type(values["agent_decision"]) is int
    assert values["agent_predicted_std"] == 0.5 and type(values["agent_predicted_std"]) is float
    assert values["agent_fallback"] is True
    assert values["agent_m"] == 1.25
    with pytest.raises(KeyError, match="agent_nope"):
        recorder.record(nope=1)


def test_json_round_trips_floats_exactly() -> None:
    values = {"a": [0.1 + 0.2, 1e-300, np.float64(np.pi)], "b": np.array([2.5, -0.0])}
    decoded = json.loads(to_json(values))
    assert decoded["a"] == [0.1 + 0.2, 1e-300, math.pi]
    assert decoded["b"] == [2.5, -0.0]
    assert json.loads(to_json({"x": float("nan")})) == {"x": "nan"}
