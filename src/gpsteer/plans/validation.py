"""Check an autonomous plan's arguments before anything moves.

A mistake found after the first motor has moved costs beam time and may leave a
sample exposed; the same mistake found when the plan is called costs nothing.
Every check here runs when :func:`~gpsteer.plans.autonomous_plan` is *called*
(before the RunEngine sees a message), and each failure raises a specific
:mod:`gpsteer.errors` exception whose message says what to change.

The results are small frozen objects (:class:`~gpsteer.plans.space.Space`, made by
:func:`~gpsteer.plans.space.make_space`; :class:`~gpsteer.schema.target.TargetSpec`)
that the plan, the document callback and replay share, so they agree on which event
field is which model input.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gpsteer.agent.protocols import missing_calls
from gpsteer.errors import ConfigurationError, InputError, ShapeError, UnknownNameError
from gpsteer.plans.space import Space
from gpsteer.schema.target import TargetSpec

__all__ = ["check_agent", "check_batch_size", "check_initial_points", "make_target"]

#: The event dtypes a field name target may have (a scalar reading).
_SCALAR_DTYPES = ("number", "integer", "boolean")


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
            f"its bounds {tuple(space.bounds[col].tolist())}; move the point inside the space"
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
            f"the agent's domain for input {i} {tuple(agent_bounds[i].tolist())} reaches outside "
            f"the bounds of {space.names[i]!r} {tuple(space.bounds[i].tolist())}; give the agent "
            "bounds inside the space"
        )
