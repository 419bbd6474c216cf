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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gpsteer.agent.protocols import missing_calls
from gpsteer.errors import ConfigurationError, InputError, ShapeError, UnknownNameError
from gpsteer.schema.run_start import Axis
from gpsteer.schema.target import TargetSpec

__all__ = [
    "Space",
    "check_agent",
    "check_batch_size",
    "check_initial_points",
    "make_space",
    "make_target",
    "readback_field",
]

#: The event dtypes a field name target may have (a scalar reading).
_SCALAR_DTYPES = ("number", "integer", "boolean")


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
    """

    motors: tuple[Any, ...]
    names: tuple[str, ...]
    fields: tuple[str, ...]
    bounds: np.ndarray

    @property
    def dim(self) -> int:
        """Number of inputs (motors)."""
        return len(self.motors)

    def axes(self) -> tuple[Axis, ...]:
        """One :class:`~gpsteer.schema.Axis` per input, as the start document records it."""
        return tuple(
            Axis(name, field, float(lo), float(hi))
            for name, field, (lo, hi) in zip(self.names, self.fields, self.bounds, strict=True)
        )


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
    motors, names, fields, bounds = [], [], [], []
    for motor, interval in space.items():
        name = getattr(motor, "name", None)
        if not isinstance(name, str) or not callable(getattr(motor, "set", None)):
            raise InputError(
                f"each key of space must be a movable device (with .name and .set()), got {motor!r}"
            )
        lo, hi = _check_interval(name, interval)
        limits = _motor_limits(motor)
        if limits is not None and (lo < limits[0] or hi > limits[1]):
            raise InputError(
                f"the bounds ({lo}, {hi}) of {name!r} leave its limits {limits}; "
                f"choose bounds within [{limits[0]}, {limits[1]}]"
            )
        motors.append(motor)
        names.append(name)
        fields.append(readback_field(motor))
        bounds.append((lo, hi))
    for label, values in (("name", names), ("readback field", fields)):
        if len(set(values)) != len(values):
            raise ConfigurationError(
                f"two motors in space share a {label} ({values}); each input needs its own motor"
            )
    return Space(tuple(motors), tuple(names), tuple(fields), np.asarray(bounds, dtype=np.float64))


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
    spec = TargetSpec.from_user(target)
    if spec.reduction is not None:
        return spec
    field, variance_field = spec.field, spec.variance_field
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
    return spec


# -- budgets and the agent -----------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_batch_size(batch_size: Any) -> int:
    """``batch_size`` as a positive int; :class:`InputError` otherwise."""
    if not _is_int(batch_size) or batch_size < 1:
        raise InputError(f"batch_size must be a positive integer, got {batch_size!r}")
    return int(batch_size)


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
            f"its bounds {tuple(space.bounds[col])}; move the point inside the space"
        )
    if len(points) > max_points:
        raise InputError(
            f"{len(points)} initial points exceed max_points={max_points}; "
            "pass fewer points or raise max_points"
        )
    return points


def check_agent(agent: Any, space: Space) -> None:
    """Check that ``agent`` can steer this space: it has what the plans call
    (:class:`~gpsteer.agent.protocols.SteeringAgent`), the same dimension, and its
    domain inside the bounds.

    Raises
    ------
    ConfigurationError
        The agent lacks a method the plans call, its dimension differs from the number
        of motors, or its domain reaches outside the space (it could ask for points the
        plan must not visit).
    """
    missing = missing_calls(agent)
    if missing:
        raise ConfigurationError(
            f"agent must be a gpsteer Agent, or provide what the plans call "
            f"(gpsteer.agent.protocols.SteeringAgent); {type(agent).__name__} lacks {missing}"
        )
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
            f"the agent's domain for input {i} ({tuple(agent_bounds[i])}) reaches outside the "
            f"bounds of {space.names[i]!r} {tuple(space.bounds[i])}; give the agent bounds "
            "inside the space"
        )
