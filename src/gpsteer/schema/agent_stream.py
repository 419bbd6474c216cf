"""The ``agent`` event stream: each decision of the agent, recorded in the run.

A map measured by an autonomous plan is only as trustworthy as the record of why
each point was chosen. The plan reads a :class:`DecisionRecorder` — a small
ophyd-free readable — into an event stream named ``agent`` of the same run, so
the catalog holds, next to every measurement, the model that chose it.

One event per chosen point (``agent_action == "measure"``; with ``batch_size=1``
one event per decision, with larger batches the points of one decision share
``agent_decision``), one event per reading the agent was not told
(``agent_action == "reject"``, right after that reading; ``agent_message``
gives the reason: NaN, outside the bounds, a reduction's
:class:`~gpsteer.errors.RejectedReadingError`), and one last event when the plan stops
(``agent_action == "stop"``, ``agent_stop_reason`` set, positions NaN) that
records the final model. Fields (all scalars, so any tiled table holds them):

=========================== ======== ==============================================
field                       dtype    meaning
=========================== ======== ==============================================
agent_action                string   ``"measure"``, ``"reject"`` or ``"stop"``
agent_decision              integer  index of the decision (an ask) in this run
agent_batch_index           integer  index of the point within its batch
agent_<motor>               number   position chosen for each motor
agent_acquisition           string   acquisition function name
agent_acquisition_value     number   its value at the chosen point
agent_predicted_mean        number   posterior mean at the chosen point (user units)
agent_predicted_std         number   posterior std at the chosen point (user units)
agent_model_version         integer  model version counter
agent_n_points              integer  points the model held when it decided
agent_hyperparameters       string   JSON ``{name: [values]}`` of the model used
agent_state                 string   JSON of the model state that rebuilds it (replay)
agent_training              string   JSON of the training status
agent_fallback              boolean  the agent fell back to a simpler choice
agent_message               string   the agent's note about this decision
agent_max_uncertainty       number   max posterior std over the domain (NaN if not computed)
agent_decision_time         number   seconds the decision took
agent_stop_reason           string   why the plan stopped (stop event only)
=========================== ======== ==============================================
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["DecisionRecorder", "to_json"]

STREAM = "agent"


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # JSON has no NaN/inf
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


def to_json(value: Any) -> str:
    """JSON text of ``value`` (dataclasses, numpy arrays and scalars included).

    Floats are written with ``repr`` precision, so they read back bit for bit:
    replay sets exactly the hyperparameters that were used.
    """
    return json.dumps(_jsonable(value), sort_keys=True)


class DecisionRecorder:
    """A readable that holds one decision, for ``bps.create("agent") / bps.read / bps.save``.

    Parameters
    ----------
    motor_names : sequence of str
        Names of the motors, in model-input order (one ``agent_<name>`` field each).

    Notes
    -----
    Set the values with :meth:`record` before each read; the set of fields never
    changes, so the stream has one descriptor.
    """

    name = STREAM
    parent = None

    def __init__(self, motor_names: Sequence[str]) -> None:
        self.position_fields = tuple(f"{STREAM}_{name}" for name in motor_names)
        self._values: dict[str, Any] = {
            "agent_action": "",
            "agent_decision": 0,
            "agent_batch_index": 0,
            **{f: math.nan for f in self.position_fields},
            "agent_acquisition": "",
            "agent_acquisition_value": math.nan,
            "agent_predicted_mean": math.nan,
            "agent_predicted_std": math.nan,
            "agent_model_version": 0,
            "agent_n_points": 0,
            "agent_hyperparameters": "{}",
            "agent_state": "{}",
            "agent_training": "{}",
            "agent_fallback": False,
            "agent_message": "",
            "agent_max_uncertainty": math.nan,
            "agent_decision_time": math.nan,
            "agent_stop_reason": "",
        }
        self._timestamp = time.time()

    def record(self, **values: Any) -> None:
        """Set the fields of the next event (names without the ``agent_`` prefix)."""
        for key, value in values.items():
            field = f"{STREAM}_{key}"
            if field not in self._values:
                raise KeyError(f"{field!r} is not a field of the agent stream")
            self._values[field] = type(self._values[field])(value)
        self._timestamp = time.time()

    def record_position(self, point: Sequence[float]) -> None:
        """Set the chosen position (NaN for none)."""
        for field, value in zip(self.position_fields, point, strict=True):
            self._values[field] = float(value)

    # -- the Readable protocol ------------------------------------------------------

    def read(self) -> dict[str, dict[str, Any]]:
        """The current decision as a reading."""
        return {k: {"value": v, "timestamp": self._timestamp} for k, v in self._values.items()}

    def describe(self) -> dict[str, dict[str, Any]]:
        """Data keys of the ``agent`` stream."""
        out = {}
        for key, value in self._values.items():
            if isinstance(value, bool):
                dtype = "boolean"
            elif isinstance(value, int):
                dtype = "integer"
            elif isinstance(value, str):
                dtype = "string"
            else:
                dtype = "number"
            out[key] = {"source": "gpsteer.agent", "dtype": dtype, "shape": []}
        return out

    def read_configuration(self) -> dict[str, Any]:
        """No configuration: everything is in the readings."""
        return {}

    def describe_configuration(self) -> dict[str, Any]:
        """No configuration: everything is in the readings."""
        return {}

    @property
    def hints(self) -> dict[str, list[str]]:
        """Hint the predicted mean and std, the most useful columns to a table."""
        return {"fields": ["agent_predicted_mean", "agent_predicted_std"]}
