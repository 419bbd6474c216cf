"""Check an autonomous plan's arguments before anything moves.

A mistake found after the first motor has moved costs beam time and may leave a
sample exposed; the same mistake found when the plan is called costs nothing.
Every check here runs when :func:`~gpsteer.plans.autonomous_plan` is *called*
(before the RunEngine sees a message), and each failure raises a specific
:mod:`gpsteer.errors` exception whose message says what to change.

The results are small frozen objects (:class:`Space`, :class:`TargetSpec`) that
the plan, the document callback and replay share, so they agree on which event
field is which model input.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gpsteer.errors import (
    ConfigurationError,
    DeviceError,
    GpsteerError,
    InputError,
    ShapeError,
    UnknownNameError,
)

__all__ = [
    "Space",
    "TargetSpec",
    "check_agent",
    "check_budgets",
    "check_initial_points",
    "initial_design_size",
    "make_space",
    "make_target",
    "readback_field",
]

#: The event dtypes a field name target may have (a scalar reading).
_SCALAR_DTYPES = ("number", "integer", "boolean")
#: Seconds added to every default move timeout (a put, a settle, a busy IOC).
MOVE_TIMEOUT_MARGIN_S = 10.0


@dataclass(frozen=True)
class Space:
    """The search space: one motor per model input, in the order of ``space``.

    Attributes
    ----------
    motors : tuple
        The movables, in model-input order.
    names : tuple of str
        ``motor.name`` of each.
    fields : tuple of str
        The event field holding each motor's readback (the model inputs ``x``).
    bounds : numpy.ndarray
        ``(d, 2)`` array of ``(lo, hi)`` per input.
    speeds : tuple of (float or None)
        Each motor's speed (EGU/s) and acceleration time (s), read when the plan was
        called, for the default move timeout; None where the motor does not say
        (not a motor record) or has a ``timeout`` of its own.
    """

    motors: tuple[Any, ...]
    names: tuple[str, ...]
    fields: tuple[str, ...]
    bounds: np.ndarray
    speeds: tuple[tuple[float, float] | None, ...] = ()

    def move_timeout(self, index: int, distance: float) -> float | None:
        """The default timeout of a move of ``distance`` by motor ``index`` (None: none).

        Twice the time the move needs at the motor's speed, plus its acceleration, plus
        :data:`MOVE_TIMEOUT_MARGIN_S`: generous for a working motor, finite for one whose
        IOC died in the middle of the move (ophyd's ``EpicsMotor`` waits for ever).
        """
        speed = self.speeds[index] if index < len(self.speeds) else None
        if speed is None:
            return None
        velocity, acceleration = speed
        return 2.0 * (abs(distance) / velocity + 2.0 * acceleration) + MOVE_TIMEOUT_MARGIN_S

    @property
    def dim(self) -> int:
        """Number of inputs (motors)."""
        return len(self.motors)

    def metadata(self) -> list[dict[str, Any]]:
        """JSON-able description for the start document (one entry per input)."""
        return [
            {"motor": name, "field": field, "lo": float(lo), "hi": float(hi)}
            for name, field, (lo, hi) in zip(self.names, self.fields, self.bounds, strict=True)
        ]


@dataclass(frozen=True)
class TargetSpec:
    """What the model learns: an event field, or a reduction of an event's readings.

    Attributes
    ----------
    field : str or None
        The event field holding the value (None for a reduction).
    variance_field : str or None
        The event field holding the value's noise variance, if any.
    reduction : callable or None
        ``reduction(readings) -> value`` or ``-> (value, variance)``, where
        ``readings`` maps event field names to values.
    """

    field: str | None = None
    variance_field: str | None = None
    reduction: Callable[[Mapping[str, Any]], Any] | None = None

    @property
    def name(self) -> str:
        """A short label: the field name, or the reduction's qualified name."""
        if self.field is not None:
            return self.field
        return _qualified_name(self.reduction) or "reduction"

    def metadata(self) -> dict[str, Any]:
        """JSON-able description for the start document."""
        if self.reduction is None:
            return {"kind": "field", "field": self.field, "variance_field": self.variance_field}
        return {"kind": "reduction", "name": _qualified_name(self.reduction)}

    def evaluate(self, data: Mapping[str, Any]) -> tuple[float, float | None]:
        """Return ``(value, noise variance or None)`` for one event's ``data``."""
        if self.reduction is None:
            value = _as_float(data[self.field], self.field)
            if self.variance_field is None:
                return value, None
            return value, _as_float(data[self.variance_field], self.variance_field)
        out = self.reduction(data)
        if isinstance(out, tuple):
            if len(out) != 2:
                raise ShapeError(
                    f"the target reduction {self.name!r} returned a tuple of {len(out)} items; "
                    "return a value or a (value, noise variance) pair"
                )
            value, variance = out
            return _as_float(value, self.name), (
                None if variance is None else _as_float(variance, f"{self.name} variance")
            )
        return _as_float(out, self.name), None


def _as_float(value: Any, what: str) -> float:
    array = np.asarray(value)
    if array.size != 1:
        raise ShapeError(
            f"the target {what!r} is an array of shape {array.shape}, not one number; "
            "pass target=a reduction callable that turns the event's readings into a value"
        )
    return float(array.reshape(()))


def _qualified_name(func: Any) -> str | None:
    module = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None) or getattr(type(func), "__qualname__", None)
    if module is None or qualname is None:
        return None
    return f"{module}.{qualname}"


# -- space ---------------------------------------------------------------------


def readback_field(motor: Any) -> str:
    """The event field that holds ``motor``'s readback (the model input).

    Why hints first: ophyd marks the readback as the hinted field of a
    positioner (``EpicsMotor``: ``<name>``; ``SynAxis``: ``<name>``), while the
    setpoint is only ``normal``.
    """
    name = getattr(motor, "name", None)
    hints = getattr(motor, "hints", None) or {}
    fields = list(hints.get("fields", ())) if isinstance(hints, Mapping) else []
    if fields:
        return str(fields[0])
    describe = getattr(motor, "describe", None)
    keys = list(describe()) if callable(describe) else []
    if name in keys:
        return str(name)
    if len(keys) == 1:
        return str(keys[0])
    raise ConfigurationError(
        f"cannot tell which reading of {name!r} is its position (no hinted field, "
        f"readings {keys}); give it hints={{'fields': [<readback field>]}}"
    )


def _motor_speed(motor: Any) -> tuple[float, float] | None:
    """``(velocity, acceleration time)`` of a motor record (EGU/s, s), or None.

    None when the motor has a ``timeout`` of its own (the user chose it), or no
    ``velocity`` signal (not a motor record: ``SynAxis``, a soft signal), or a velocity
    that is not a positive number.
    """
    if getattr(motor, "timeout", None) is not None or not _set_takes_timeout(motor):
        return None
    velocity = getattr(motor, "velocity", None)
    if not callable(getattr(velocity, "get", None)):
        return None
    value = float(velocity.get())
    acceleration = getattr(motor, "acceleration", None)
    accel = float(acceleration.get()) if callable(getattr(acceleration, "get", None)) else 0.0
    if not (math.isfinite(value) and value > 0):
        return None
    return value, max(accel, 0.0) if math.isfinite(accel) else 0.0


def _set_takes_timeout(motor: Any) -> bool:
    """Whether ``motor.set(value, timeout=...)`` is allowed (EpicsMotor: yes; SynAxis: no)."""
    try:
        parameters = inspect.signature(motor.set).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "timeout" or p.kind is p.VAR_KEYWORD for p in parameters)


def _motor_facts(motor: Any, name: str) -> tuple[tuple[float, float] | None, Any, str]:
    """Limits, speed and readback field of ``motor``; a :class:`DeviceError` if it cannot
    answer (an ``EpicsMotor`` whose IOC is not running raises ophyd's bare
    ``DisconnectedError`` here), before anything moves."""
    try:
        return _motor_limits(motor), _motor_speed(motor), readback_field(motor)
    except GpsteerError:
        raise
    except Exception as exc:
        raise DeviceError(
            f"the motor {name!r} in space does not answer ({type(exc).__name__}: {exc}); "
            "check that its IOC runs and its PV prefix is right (motor.connected, "
            "motor.wait_for_connection()). Nothing was moved."
        ) from exc


def _motor_limits(motor: Any) -> tuple[float, float] | None:
    """``motor.limits`` as floats, or None when it has none.

    ophyd reports "no limits" as ``(0, 0)``; EPICS treats any ``lo >= hi`` the same.
    """
    limits = getattr(motor, "limits", None)
    if limits is None:
        return None
    try:
        lo, hi = (float(v) for v in limits)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
        return None
    return lo, hi


def _check_interval(name: str, interval: Any) -> tuple[float, float]:
    try:
        lo, hi = interval
        lo, hi = float(lo), float(hi)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"the space entry for {name!r} must be a (lo, hi) pair of numbers, got {interval!r}"
        ) from exc
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise InputError(f"the bounds of {name!r} must be finite numbers, got ({lo}, {hi})")
    if lo > hi:
        raise InputError(
            f"the bounds of {name!r} are inverted: lo={lo} > hi={hi}; write them as ({hi}, {lo})"
        )
    if lo == hi:
        raise InputError(
            f"the bounds of {name!r} have zero width ({lo}, {hi}); give a range with lo < hi, "
            "or leave the motor out of the space and move it before the plan"
        )
    return lo, hi


def make_space(space: Mapping[Any, Sequence[float]]) -> Space:
    """Validate ``{motor: (lo, hi), ...}`` and return a :class:`Space`.

    Raises
    ------
    InputError
        Not a non-empty mapping, inverted / zero-width / non-finite bounds, or
        bounds outside a motor's limits (``motor.limits``; ``(0, 0)`` means none).
    ConfigurationError
        A motor whose readback field cannot be identified, or two entries with
        the same name or readback field.
    """
    if not isinstance(space, Mapping) or not space:
        raise InputError(
            "space must be a non-empty mapping {motor: (lo, hi), ...}, got "
            f"{type(space).__name__}"
        )
    motors, names, fields, bounds, speeds = [], [], [], [], []
    for motor, interval in space.items():
        name = getattr(motor, "name", None)
        if not isinstance(name, str) or not callable(getattr(motor, "set", None)):
            raise InputError(
                f"each key of space must be a movable device (with .name and .set()), got {motor!r}"
            )
        if getattr(motor, "connected", True) and getattr(motor, "write_access", True) is False:
            raise InputError(
                f"{name!r} in space is read-only ({type(motor).__name__}): a space needs "
                "movables (motors, setpoints); put detectors in the detector list"
            )
        lo, hi = _check_interval(name, interval)
        limits, speed, field = _motor_facts(motor, name)
        if limits is not None and (lo < limits[0] or hi > limits[1]):
            raise InputError(
                f"the bounds ({lo}, {hi}) of {name!r} leave its limits {limits}; "
                f"choose bounds within [{limits[0]}, {limits[1]}]"
            )
        motors.append(motor)
        names.append(name)
        fields.append(field)
        bounds.append((lo, hi))
        speeds.append(speed)
    for label, values in (("name", names), ("readback field", fields)):
        if len(set(values)) != len(values):
            raise ConfigurationError(
                f"two motors in space share a {label} ({values}); each input needs its own motor"
            )
    return Space(
        tuple(motors),
        tuple(names),
        tuple(fields),
        np.asarray(bounds, dtype=np.float64),
        tuple(speeds),
    )


# -- target --------------------------------------------------------------------


def _describe_all(devices: Sequence[Any]) -> dict[str, Mapping[str, Any]] | None:
    """Merge ``describe()`` of ``devices``; None if one of them describes asynchronously."""
    out: dict[str, Mapping[str, Any]] = {}
    for device in devices:
        description = device.describe()
        if inspect.isawaitable(description):
            if inspect.iscoroutine(description):
                description.close()
            return None
        out.update(description)
    return out


def make_target(target: Any, detectors: Sequence[Any], space: Space) -> TargetSpec:
    """Validate ``target`` against what ``detectors`` and motors read; return a :class:`TargetSpec`.

    ``target`` is an event field name, a ``(value field, variance field)`` pair,
    or a callable ``reduction(readings) -> value | (value, variance)``.

    Raises
    ------
    UnknownNameError
        A field that no detector (nor motor) describes; the message lists the fields.
    InputError
        A field that is not a scalar (an image or spectrum: use a reduction), or
        a target of another type.
    """
    if callable(target) and not isinstance(target, str):
        return TargetSpec(reduction=target)
    if isinstance(target, str):
        field, variance_field = target, None
    elif (
        isinstance(target, Sequence)
        and len(target) == 2
        and all(isinstance(t, str) for t in target)
    ):
        field, variance_field = target
    else:
        raise InputError(
            "target must be an event field name, a (value field, variance field) pair, or a "
            f"callable reduction(readings) -> value or (value, variance); got {target!r}"
        )
    described = _describe_all([*detectors, *space.motors])
    if described is not None:  # asynchronous devices: checked at the first descriptor
        for name in (field, variance_field):
            if name is None:
                continue
            if name not in described:
                raise UnknownNameError(
                    f"no detector reads a field {name!r}; the detectors read "
                    f"{sorted(described)}. Pass one of these as target, or add the detector "
                    "that reads it"
                )
            dtype = described[name].get("dtype", "number")
            if dtype not in _SCALAR_DTYPES:
                shape = described[name].get("shape")
                raise InputError(
                    f"the field {name!r} is {dtype} (shape {shape}), not one number per event; "
                    "pass target=a reduction callable that turns the readings into a value"
                )
    return TargetSpec(field=field, variance_field=variance_field)


# -- budgets and the agent -----------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _positive_number(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{name} must be a positive number or None, got {value!r}")
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise InputError(f"{name} must be a positive finite number or None, got {value!r}")
    return value


def check_budgets(
    *,
    max_points: Any,
    batch_size: Any,
    max_time: Any,
    target_uncertainty: Any,
    stop_when: Any,
) -> tuple[int, int, float | None, float | None]:
    """Validate the stopping budgets; return ``(max_points, batch_size, max_time, target_unc)``."""
    if not _is_int(max_points) or max_points < 1:
        raise InputError(f"max_points must be a positive integer, got {max_points!r}")
    if not _is_int(batch_size) or batch_size < 1:
        raise InputError(f"batch_size must be a positive integer, got {batch_size!r}")
    if stop_when is not None and not callable(stop_when):
        raise InputError(
            f"stop_when must be a callable stop_when(agent, progress) -> bool, got {stop_when!r}"
        )
    return (
        int(max_points),
        int(batch_size),
        _positive_number("max_time", max_time),
        _positive_number("target_uncertainty", target_uncertainty),
    )


def initial_design_size(dim: int, max_points: int, n_known: int) -> int:
    """The size of the first decision: the agent's space-filling design.

    Why ``4 d`` (at least 4): enough for a first length-scale estimate per
    input, small next to the budgets of a mapping run. 0 when the agent
    already holds data (a resumed run): its model chooses from the start.
    """
    if n_known > 0:
        return 0
    return min(max_points, max(4, 4 * dim))


def check_initial_points(initial_points: Any, space: Space, max_points: int) -> int | np.ndarray:
    """Validate ``initial_points``: a count, or an ``(n, d)`` array of positions in the space."""
    if _is_int(initial_points):
        if initial_points < 0:
            raise InputError(f"initial_points must be >= 0, got {initial_points}")
        if initial_points > max_points:
            raise InputError(
                f"initial_points={initial_points} is more than max_points={max_points}; "
                "lower initial_points or raise max_points"
            )
        return int(initial_points)
    try:
        points = np.asarray(initial_points, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(
            "initial_points must be a count or an (n, d) array of positions, "
            f"got {type(initial_points).__name__}"
        ) from exc
    if points.ndim != 2 or points.shape[1] != space.dim:
        raise ShapeError(
            f"initial_points must have shape (n, {space.dim}) (one column per motor in space), "
            f"got {points.shape}"
        )
    if not np.all(np.isfinite(points)):
        raise InputError("initial_points holds NaN or infinite values")
    outside = (points < space.bounds[:, 0]) | (points > space.bounds[:, 1])
    if outside.any():
        row, col = np.argwhere(outside)[0]
        raise InputError(
            f"initial point {row} puts {space.names[col]!r} at {points[row, col]}, outside "
            f"its bounds {tuple(space.bounds[col].tolist())}; move the point inside the space"
        )
    if len(points) > max_points:
        raise InputError(
            f"{len(points)} initial points exceed max_points={max_points}; "
            "pass fewer points or raise max_points"
        )
    return points


def check_agent(agent: Any, space: Space) -> None:
    """Check that ``agent`` models this space: same dimension, domain inside the bounds.

    Raises
    ------
    ConfigurationError
        The agent's dimension differs from the number of motors, or its domain
        reaches outside the space (it could ask for points the plan must not visit).
    """
    dim = getattr(agent, "dim", None)
    if dim != space.dim:
        raise ConfigurationError(
            f"the agent models {dim} inputs but space has {space.dim} motors "
            f"({list(space.names)}); build the agent with one (lo, hi) per motor, in the "
            "order of space"
        )
    agent_bounds = np.asarray(agent.bounds, dtype=np.float64).reshape(space.dim, 2)
    tol = 1e-9 * np.maximum(1.0, np.abs(space.bounds).max(axis=1))
    low = agent_bounds[:, 0] < space.bounds[:, 0] - tol
    high = agent_bounds[:, 1] > space.bounds[:, 1] + tol
    if (low | high).any():
        i = int(np.argmax(low | high))
        raise ConfigurationError(
            f"the agent's domain for input {i} {tuple(agent_bounds[i].tolist())} reaches outside "
            f"the bounds of {space.names[i]!r} {tuple(space.bounds[i].tolist())}; give the agent "
            "bounds inside the space"
        )
