"""Input checks the agent runs before it changes anything, each with a message that says
what to change."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gpsteer.errors import InputError, ShapeError

__all__ = [
    "check_bounds",
    "check_constraints",
    "check_count",
    "check_names",
    "check_points",
    "check_values",
]

#: Measured positions may lie this far (relative to the width) outside the bounds: motor
#: readbacks differ from setpoints by a little.
BOUNDS_TOLERANCE = 1e-3
#: Largest magnitude of a measured value: the posterior variance is in squared units, and
#: above this it would overflow float64.
MAX_ABS_VALUE = 1e150


def _numeric(a: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(a, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be numeric; {exc}.") from None
    return arr


def check_bounds(bounds: Sequence[tuple[float, float]] | np.ndarray) -> np.ndarray:
    """``(d, 2)`` float array of finite ``(lo, hi)`` pairs with ``lo < hi``."""
    b = _numeric(bounds, "bounds")
    if b.ndim != 2 or b.shape[1] != 2 or b.shape[0] == 0:
        raise ShapeError(
            f"bounds must be a list of (lo, hi) pairs, one per dimension; got shape {b.shape}."
        )
    if not np.isfinite(b).all():
        raise InputError(f"bounds must be finite; got {b.tolist()}.")
    bad = np.flatnonzero(~(b[:, 0] < b[:, 1]))
    if bad.size:
        raise InputError(
            f"bounds need lo < hi in every dimension; dimension(s) {bad.tolist()} have "
            f"{b[bad].tolist()}."
        )
    return b


def check_count(n: Any, name: str = "n") -> int:
    """A positive integer number of points."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise InputError(f"{name} must be an integer >= 1; got {n!r}.")
    if n < 1:
        raise InputError(f"{name} must be >= 1; got {n}.")
    return int(n)


def check_points(
    X: Any, bounds: np.ndarray, name: str = "X", *, tolerance: float = BOUNDS_TOLERANCE
) -> np.ndarray:
    """``(n, d)`` finite positions inside ``bounds`` (up to ``tolerance`` of the width)."""
    d = bounds.shape[0]
    arr = _numeric(X, name)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1) if d == 1 else arr.reshape(1, -1)
    if arr.ndim != 2 or arr.shape[1] != d:
        raise ShapeError(f"{name} must have shape (n, {d}) for this {d}-D agent; got {arr.shape}.")
    if not np.isfinite(arr).all():
        raise InputError(f"{name} contains NaN or inf; drop those points.")
    slack = tolerance * (bounds[:, 1] - bounds[:, 0])
    outside = np.any((arr < bounds[:, 0] - slack) | (arr > bounds[:, 1] + slack), axis=1)
    if outside.any():
        raise InputError(
            f"{int(outside.sum())} point(s) of {name} lie outside the bounds "
            f"{bounds.tolist()}, e.g. {arr[np.argmax(outside)].tolist()}; widen the bounds or "
            "drop those points."
        )
    return arr


def check_values(
    y: Any,
    n: int,
    name: str = "y",
    *,
    nonnegative: bool = False,
    allow_scalar: bool = False,
    max_abs: float = MAX_ABS_VALUE,
) -> np.ndarray:
    """``(n,)`` finite values no larger than ``max_abs`` (``>= 0`` when ``nonnegative``)."""
    arr = _numeric(y, name).reshape(-1)
    if allow_scalar and arr.size == 1 and n != 1:
        arr = np.full(n, float(arr[0]))
    if arr.shape != (n,):
        raise ShapeError(f"{name} must hold {n} value(s), one per point; got {arr.size}.")
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).sum())
        raise InputError(f"{name} contains {bad} NaN or inf value(s); drop those points.")
    if nonnegative and (arr < 0).any():
        raise InputError(f"{name} must be >= 0; got {float(arr.min())}.")
    largest = float(np.abs(arr).max(initial=0.0))
    if largest > max_abs:
        raise InputError(
            f"{name} holds values up to {largest:.3g}, too large to model in float64 (their "
            f"variances would overflow); rescale them to below {max_abs:.0e}, e.g. change units."
        )
    return arr


def check_finite_float(value: Any, name: str, *, positive: bool = True) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number; got {value!r}.") from None
    if not math.isfinite(v) or (positive and v <= 0):
        raise InputError(f"{name} must be a finite number{' > 0' if positive else ''}; got {v}.")
    return v


def check_names(
    names: Sequence[str] | None, value_name: str, d: int
) -> tuple[tuple[str, ...], str]:
    """Dimension keys (default ``x0, x1, ...``) and the value key for suggest/ingest dicts."""
    names = tuple(f"x{i}" for i in range(d)) if names is None else tuple(names)
    if len(names) != d or not all(isinstance(s, str) and s for s in names):
        raise InputError(f"dimension_names needs {d} non-empty string(s); got {names!r}.")
    if len(set(names)) != d:
        raise InputError(f"dimension_names must be distinct; got {names!r}.")
    if not isinstance(value_name, str) or not value_name or value_name in (*names, "_id"):
        raise InputError(
            f"value_name must be a non-empty string other than '_id' and the dimension names; "
            f"got {value_name!r}."
        )
    return names, value_name


def check_constraints(constraints: Any) -> tuple[Callable[..., Any], ...]:
    """One callable or a sequence of them, as a tuple."""
    cons = (constraints,) if callable(constraints) else tuple(constraints or ())
    for g in cons:
        if not callable(g):
            raise InputError(f"Each constraint must be a callable g(X) -> (m,); got {g!r}.")
    return cons
