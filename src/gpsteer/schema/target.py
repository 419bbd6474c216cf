"""What the model of a run learns: an event field, or a reduction of an event's readings.

The plan validates the user's ``target=`` into a :class:`TargetSpec`, records it in
the start document, and the document callback evaluates it on every event; replay
reads it back from the start document. One type, so they agree.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gpsteer.errors import ConfigurationError, InputError, ShapeError

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

    @classmethod
    def from_user(cls, target: Any) -> TargetSpec:
        """Parse ``target=`` as users write it: a field name, a ``(value field, variance
        field)`` pair, or a callable ``reduction(readings) -> value | (value, variance)``.

        Raises
        ------
        InputError
            Anything else; the message lists the three forms.
        """
        if isinstance(target, TargetSpec):
            return target
        if callable(target) and not isinstance(target, str):
            return cls(reduction=target)
        if isinstance(target, str):
            return cls(field=target)
        if (
            isinstance(target, Sequence)
            and len(target) == 2
            and all(isinstance(t, str) for t in target)
        ):
            return cls(field=target[0], variance_field=target[1])
        raise InputError(
            "target must be an event field name, a (value field, variance field) pair, or a "
            f"callable reduction(readings) -> value or (value, variance); got {target!r}"
        )

    def to_user(self) -> str | tuple[str, str] | Callable[[Mapping[str, Any]], Any]:
        """The ``target=`` form :meth:`from_user` parses back into this spec."""
        if self.reduction is not None:
            return self.reduction
        assert self.field is not None  # a field spec always has its field
        return self.field if self.variance_field is None else (self.field, self.variance_field)

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> TargetSpec:
        """The spec :meth:`metadata` described (a run's start document).

        A reduction is re-imported by its qualified name when it is a module-level
        function.

        Raises
        ------
        ConfigurationError
            The reduction cannot be imported by name (a lambda, a local function);
            pass it again.
        """
        if metadata.get("kind") == "field":
            return cls(field=metadata["field"], variance_field=metadata.get("variance_field"))
        name = metadata.get("name") or ""
        reduction = _import(name)
        if reduction is None:
            raise ConfigurationError(
                f"this run's target was the reduction {name!r}, which cannot be imported by "
                "name (a lambda or a local function); pass it again: replay(run, target=...)"
            )
        return cls(reduction=reduction)

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


def _import(qualified: str) -> Callable[..., Any] | None:
    if "<" in qualified or "." not in qualified:
        return None
    parts = qualified.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj if callable(obj) else None
    return None
