"""The search space of a plan: its motors, their bounds, readback fields and speeds.

:func:`make_space` checks ``{motor: (lo, hi), ...}`` when the plan is called, before
anything moves: movables only, bounds inside the motors' limits, a motor that
answers. A motor record's speed is read then too, so that each move gets a default
timeout (:meth:`Space.move_timeouts`): an IOC that dies in the middle of a move
fails the run instead of hanging it.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gpsteer.errors import ConfigurationError, DeviceError, GpsteerError, InputError
from gpsteer.plan_stubs.measure import default_move_timeout
from gpsteer.schema.run_start import Axis

__all__ = ["Space", "make_space", "readback_field"]


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

        :func:`~gpsteer.plan_stubs.measure.default_move_timeout` at the motor's speed:
        finite for one whose IOC died in the middle of the move (ophyd's ``EpicsMotor``
        waits for ever).
        """
        speed = self.speeds[index] if index < len(self.speeds) else None
        if speed is None:
            return None
        velocity, acceleration = speed
        return default_move_timeout(distance, velocity, acceleration)

    def move_timeouts(self, point: Sequence[float]) -> tuple[float | None, ...]:
        """The default timeout of each motor's move to ``point``, from where it is now.

        A motor whose position is not known (or cannot be read: its IOC is gone, and the
        move itself then fails with a :class:`~gpsteer.errors.DeviceError`) gets the
        timeout of the widest move.
        """
        timeouts: list[float | None] = []
        for index, (motor, value) in enumerate(zip(self.motors, point, strict=True)):
            try:
                start = getattr(motor, "position", None)
            except Exception:  # a disconnected EpicsMotor raises here
                start = None
            distance = abs(float(value) - float(start)) if _is_number(start) else float("nan")
            if not np.isfinite(distance):
                distance = float(np.ptp(self.bounds[index]))
            timeouts.append(self.move_timeout(index, distance))
        return tuple(timeouts)

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


def _computed_signal(device: Any) -> bool:
    """An ophyd simulated signal whose reading is computed by a function (``SynSignal`` and
    its subclasses): it has ``.set()``, but setting it changes nothing the detectors see.
    Recognised by its class's name, so that the plans need not import ophyd."""
    return any(
        cls.__name__ == "SynSignal" and cls.__module__.startswith("ophyd.")
        for cls in type(device).__mro__
    )


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
        if _computed_signal(motor):
            raise InputError(
                f"{name!r} in space is a computed signal ({type(motor).__name__}): its value "
                "comes from a function, so setting it moves nothing; put it in the detector "
                "list and give space the motors it depends on"
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


def _is_number(value: Any) -> bool:
    try:
        return bool(np.isfinite(float(value)))
    except (TypeError, ValueError):
        return False
