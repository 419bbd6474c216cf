"""The ``agent`` event stream: each decision of the agent, recorded in the run.

A map measured by an autonomous plan is only as trustworthy as the record of why
each point was chosen. The plan reads a :class:`DecisionRecorder` — a small
ophyd-free readable holding a :class:`DecisionRecord` — into an event stream named
``agent`` of the same run, so the catalog holds, next to every measurement, the
model that chose it; :meth:`DecisionRecord.from_event` reads it back.

One event per chosen point (``agent_action == "measure"``; with ``batch_size=1``
one event per decision, with larger batches the points of one decision share
``agent_decision``), one event per reading the agent was not told
(``agent_action == "reject"``, right after that reading; ``agent_message``
gives the reason: NaN, outside the bounds, a reduction's
:class:`~gpsteer.errors.RejectedReadingError`), and one last event when the plan stops
(``agent_action == "stop"``, ``agent_stop_reason`` set, positions NaN) that
records the final model. Fields (all scalars, so any tiled table holds them):

"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gpsteer.errors import InputError, ShapeError

__all__ = ["ACTIONS", "FIELDS", "STREAM", "DecisionRecord", "DecisionRecorder", "to_json"]

#: The name of the event stream.
STREAM = "agent"
#: What an event of the stream records: a chosen point, a refused reading, the stop.
ACTIONS = ("measure", "reject", "stop")
_PREFIX = f"{STREAM}_"
_NAN = math.nan


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


def _meaning(text: str) -> dict[str, Any]:
    return {"metadata": {"meaning": text}}


@dataclass(frozen=True)
class DecisionRecord:
    """One event of a run's ``agent`` stream: the schema, written once.

    The fields below are the stream's fields without the ``agent_`` prefix (the
    chosen position is one ``agent_<motor>`` field per motor); ``hyperparameters``,
    ``state`` and ``training`` are JSON text in the event and mappings here.
    ``seq_num`` and ``time`` are the event's, set when a record is read back
    (-1 and NaN before). :meth:`data_keys` describes the stream, :meth:`event_data`
    writes a record and :meth:`from_event` reads one back.
    """

    action: str = field(metadata={"meaning": "``measure``, ``reject`` or ``stop``"})
    decision: int = field(metadata={"meaning": "index of the decision (an ask) in this run"})
    batch_index: int = field(metadata={"meaning": "index of the point within its batch"})
    position: np.ndarray = field(
        compare=False, metadata={"meaning": "position chosen for each motor (``agent_<motor>``)"}
    )
    acquisition: str = field(default="", metadata={"meaning": "acquisition function name"})
    acquisition_value: float = field(
        default=_NAN, metadata={"meaning": "its value at the chosen point"}
    )
    predicted_mean: float = field(
        default=_NAN, metadata={"meaning": "posterior mean at the chosen point (user units)"}
    )
    predicted_std: float = field(
        default=_NAN, metadata={"meaning": "posterior std at the chosen point (user units)"}
    )
    model_version: int = field(default=0, metadata={"meaning": "model version counter"})
    n_points: int = field(default=0, metadata={"meaning": "points the model held when it decided"})
    n_pending: int = field(
        default=0,
        metadata={"meaning": "points chosen, not yet measured, when it decided (during a move)"},
    )
    hyperparameters: Mapping[str, Any] = field(
        default_factory=dict, metadata={"meaning": "JSON ``{name: [values]}`` of the model used"}
    )
    state: Mapping[str, Any] = field(
        default_factory=dict,
        metadata={"meaning": "JSON of the model snapshot that rebuilds it (replay)"},
    )
    training: Mapping[str, Any] = field(
        default_factory=dict, metadata={"meaning": "JSON of the training status"}
    )
    fallback: bool = field(
        default=False, metadata={"meaning": "the agent fell back to a simpler choice"}
    )
    reason: str = field(
        default="",
        metadata={"meaning": "why this point: ``coverage`` (widest gap) or ``uncertainty``"},
    )
    terms: Mapping[str, Any] = field(
        default_factory=dict,
        metadata={"meaning": "JSON of the acquisition's terms at the point (std, edge, gap)"},
    )
    message: str = field(default="", metadata={"meaning": "the agent's note about this decision"})
    max_uncertainty: float = field(
        default=_NAN,
        metadata={"meaning": "max posterior std over the domain (NaN if not computed)"},
    )
    decision_time: float = field(default=_NAN, metadata={"meaning": "seconds the decision took"})
    stop_reason: str = field(
        default="", metadata={"meaning": "why the plan stopped (stop event only)"}
    )
    seq_num: int = field(default=-1, compare=False, metadata={"event": True})
    time: float = field(default=_NAN, compare=False, metadata={"event": True})

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise InputError(f"action must be one of {ACTIONS}, got {self.action!r}")
        object.__setattr__(self, "position", np.asarray(self.position, dtype=np.float64))

    # -- the schema ---------------------------------------------------------------------

    @classmethod
    def data_keys(cls, motor_names: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The stream's data keys (``describe()``), in event order."""
        out: dict[str, dict[str, Any]] = {}
        for f in _stream_fields():
            if f.name == "position":
                for name in motor_names:
                    out[f"{_PREFIX}{name}"] = _data_key("number")
            else:
                out[f"{_PREFIX}{f.name}"] = _data_key(_DTYPES[f.name])
        return out

    def event_data(self, motor_names: Sequence[str]) -> dict[str, Any]:
        """The event's ``data``: one scalar per field (JSON text for the mappings)."""
        out: dict[str, Any] = {}
        for f in _stream_fields():
            value = getattr(self, f.name)
            if f.name == "position":
                for name, x in zip(motor_names, value, strict=True):
                    out[f"{_PREFIX}{name}"] = float(x)
            elif f.name in _JSON_FIELDS:
                out[f"{_PREFIX}{f.name}"] = to_json(value)
            else:
                out[f"{_PREFIX}{f.name}"] = _SCALARS[_DTYPES[f.name]](value)
        return out

    @classmethod
    def from_event(cls, doc: Mapping[str, Any], motor_names: Sequence[str]) -> DecisionRecord:
        """Parse one event document of the stream (fields a run predates take their default)."""
        data = doc["data"]
        values: dict[str, Any] = {}
        for f in _stream_fields():
            if f.name != "position" and f"{_PREFIX}{f.name}" not in data:
                continue
            if f.name == "position":
                values["position"] = [_float(data[f"{_PREFIX}{n}"]) for n in motor_names]
            elif f.name in _JSON_FIELDS:
                values[f.name] = json.loads(data[f"{_PREFIX}{f.name}"] or "{}")
            elif _DTYPES[f.name] == "number":
                values[f.name] = _float(data[f"{_PREFIX}{f.name}"])
            else:
                values[f.name] = _SCALARS[_DTYPES[f.name]](data[f"{_PREFIX}{f.name}"])
        return cls(**values, seq_num=int(doc["seq_num"]), time=float(doc["time"]))


_JSON_FIELDS = ("hyperparameters", "state", "training", "terms")
_SCALARS: dict[str, Any] = {"string": str, "integer": int, "number": float, "boolean": bool}
#: Event dtype of each field, from its annotation (mappings are JSON text: strings).
_DTYPES = {
    f.name: {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}.get(
        str(f.type), "string"
    )
    for f in dataclasses.fields(DecisionRecord)
}


def _stream_fields() -> list[dataclasses.Field[Any]]:
    return [f for f in dataclasses.fields(DecisionRecord) if not f.metadata.get("event")]


def _data_key(dtype: str) -> dict[str, Any]:
    return {"source": "gpsteer.agent", "dtype": dtype, "shape": []}


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


#: The stream's fields: ``name -> (dtype, meaning)`` (``agent_<motor>`` stands for one per motor).
FIELDS: dict[str, tuple[str, str]] = {
    (f"{_PREFIX}<motor>" if f.name == "position" else f"{_PREFIX}{f.name}"): (
        "number" if f.name == "position" else _DTYPES[f.name],
        f.metadata["meaning"],
    )
    for f in _stream_fields()
}


def _field_table() -> str:
    width = max(len(name) for name in FIELDS) + 2
    rule = f"{'=' * width} ======== {'=' * 62}"
    rows = [rule, f"{'field':{width}} {'dtype':8} meaning", rule]
    for name, (dtype, meaning) in FIELDS.items():
        rows.append(f"{name:{width}} {dtype:8} {meaning}")
    rows.append(rule)
    return "\n".join(rows) + "\n"


__doc__ = (__doc__ or "") + _field_table()


class DecisionRecorder:
    """A readable that holds one :class:`DecisionRecord`, for ``bps.create("agent") /
    bps.read / bps.save``.

    Parameters
    ----------
    motor_names : sequence of str
        Names of the motors, in model-input order (one ``agent_<name>`` field each).

    Notes
    -----
    Set :attr:`record` before each read; the set of fields never changes, so the
    stream has one descriptor.
    """

    name = STREAM
    parent = None

    def __init__(self, motor_names: Sequence[str]) -> None:
        self.motor_names = tuple(motor_names)
        self._record = DecisionRecord(
            action="stop", decision=0, batch_index=0, position=np.full(len(motor_names), _NAN)
        )
        self._timestamp = time.time()

    @property
    def record(self) -> DecisionRecord:
        """The record the next read returns."""
        return self._record

    @record.setter
    def record(self, record: DecisionRecord) -> None:
        if len(record.position) != len(self.motor_names):
            raise ShapeError(
                f"the record has {len(record.position)} position(s) for motors "
                f"{list(self.motor_names)}"
            )
        self._record = record
        self._timestamp = time.time()

    # -- the Readable protocol ------------------------------------------------------

    def read(self) -> dict[str, dict[str, Any]]:
        """The current record as a reading."""
        data = self._record.event_data(self.motor_names)
        return {k: {"value": v, "timestamp": self._timestamp} for k, v in data.items()}

    def describe(self) -> dict[str, dict[str, Any]]:
        """Data keys of the ``agent`` stream."""
        return DecisionRecord.data_keys(self.motor_names)

    def read_configuration(self) -> dict[str, Any]:
        """No configuration: everything is in the readings."""
        return {}

    def describe_configuration(self) -> dict[str, Any]:
        """No configuration: everything is in the readings."""
        return {}

    @property
    def hints(self) -> dict[str, list[str]]:
        """Hint the predicted mean and std, the most useful columns to a table."""
        return {"fields": [f"{_PREFIX}predicted_mean", f"{_PREFIX}predicted_std"]}
