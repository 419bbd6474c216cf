"""The agent stream: one record type that describes, writes and reads itself back."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from bluesky.protocols import Readable

import gpsteer.schema.agent_stream as agent_stream
from gpsteer.errors import InputError
from gpsteer.schema import DecisionRecord, DecisionRecorder
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
    recorder.record = DecisionRecord(
        action="measure",
        decision=np.int64(3),
        batch_index=0,
        position=[1.25],
        predicted_std=np.float32(0.5),
        fallback=True,
        message="ok",
    )
    values = {k: v["value"] for k, v in recorder.read().items()}
    assert values["agent_decision"] == 3 and type(values["agent_decision"]) is int
    assert values["agent_predicted_std"] == 0.5 and type(values["agent_predicted_std"]) is float
    assert values["agent_fallback"] is True
    assert values["agent_m"] == 1.25
    with pytest.raises(TypeError, match="nope"):
        DecisionRecord(action="stop", decision=0, batch_index=0, position=[0.0], nope=1)
    with pytest.raises(InputError, match="action"):
        DecisionRecord(action="guess", decision=0, batch_index=0, position=[0.0])


def test_a_record_reads_back_what_it_wrote() -> None:
    record = DecisionRecord(
        action="reject",
        decision=2,
        batch_index=1,
        position=[0.5, -1.0],
        acquisition="ucb",
        acquisition_value=1.5,
        predicted_mean=0.1 + 0.2,
        n_points=7,
        hyperparameters={"kernel.lengthscale": [0.25, 0.5]},
        state={"model_version": 3, "theta": [0.1, float("nan")]},
        message="reading seq_num 4 not told: NaN",
    )
    data = record.event_data(["x", "y"])
    assert list(data) == list(DecisionRecord.data_keys(["x", "y"]))
    back = DecisionRecord.from_event({"data": data, "seq_num": 9, "time": 1.0}, ["x", "y"])
    assert to_json(back.event_data(["x", "y"])) == to_json(data)  # NaN-safe comparison
    np.testing.assert_array_equal(back.position, record.position)
    assert back.hyperparameters == record.hyperparameters
    assert (back.seq_num, back.time) == (9, 1.0)
    assert back.state["theta"][1] == "nan"  # JSON has no NaN: written as its repr


def test_the_documented_table_lists_every_field() -> None:
    for name in DecisionRecord.data_keys(["<motor>"]):
        assert name in agent_stream.__doc__


def test_json_round_trips_floats_exactly() -> None:
    values = {"a": [0.1 + 0.2, 1e-300, np.float64(np.pi)], "b": np.array([2.5, -0.0])}
    decoded = json.loads(to_json(values))
    assert decoded["a"] == [0.1 + 0.2, 1e-300, math.pi]
    assert decoded["b"] == [2.5, -0.0]
    assert json.loads(to_json({"x": float("nan")})) == {"x": "nan"}
