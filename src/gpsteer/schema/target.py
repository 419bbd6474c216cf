"""What the model of a run learns: an event field, or a reduction of an event's readings.

The plan validates the user's ``target=`` into a :class:`TargetSpec`, records it in
the start document, and the document callback evaluates it on every event; replay
reads it back from the start document. One type, so they agree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from gpsteer.errors import ShapeError

__all__ = ["TargetSpec"]


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
