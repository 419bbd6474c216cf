"""The bluesky-adaptive 1.x / blop ``Optimizer`` protocol on the agent.

``suggest(num_points) -> list[dict]`` with a unique ``"_id"`` and one key per
dimension; ``ingest(points)`` takes dicts with the dimension keys and the value key
(``"_id"`` optional); ``get_best_points()`` reports the best measured point. Points
suggested and not yet ingested are *pending*: later suggestions avoid them.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gpsteer.errors import InputError

__all__ = ["ID_KEY", "OptimizerProtocol"]

ID_KEY = "_id"


class OptimizerProtocol:
    """Mixin for :class:`~gpsteer.agent.Agent`; uses ``ask``, ``tell`` and ``predict``."""

    def suggest(self, num_points: int | None = None) -> list[dict[str, Any]]:
        """``num_points`` (default 1) points as dicts ``{"_id": int, "x0": ..., ...}``."""
        n = 1 if num_points is None else num_points
        pending = np.array(list(self._pending.values())) if self._pending else None
        suggestion = self.ask(n, pending=pending)
        out = []
        for x in suggestion.points:
            point_id = self._next_id
            self._next_id += 1
            self._pending[point_id] = [float(v) for v in x]
            out.append({ID_KEY: point_id, **dict(zip(self._names, map(float, x), strict=True))})
        return out

    def ingest(self, points: Sequence[Mapping[str, Any]]) -> None:
        """Tell the agent measured points given as dicts (dimension keys, value key, and
        optionally ``"_id"`` and ``"<value_name>_variance"``); all are checked first."""
        if isinstance(points, Mapping):
            points = [points]
        if not points:
            raise InputError("ingest() got no points.")
        var_key = f"{self._value_name}_variance"
        need = (*self._names, self._value_name)
        rows, values, variances, ids = [], [], [], []
        for i, p in enumerate(points):
            if not isinstance(p, Mapping):
                raise InputError(f"Point {i} must be a dict; got {type(p).__name__}.")
            absent = [k for k in need if k not in p]
            if absent:
                raise InputError(
                    f"Point {i} lacks key(s) {absent}; each point needs {list(need)} "
                    f"(optionally {ID_KEY!r} and {var_key!r})."
                )
            rows.append([p[k] for k in self._names])
            values.append(p[self._value_name])
            variances.append(p.get(var_key))
            ids.append(_json_id(p.get(ID_KEY)))
        has_var = [v is not None for v in variances]
        if any(has_var) and not all(has_var):
            raise InputError(f"Give {var_key!r} for every point in a call, or for none.")
        self._tell(rows, values, variances if all(has_var) else None, ids=ids)
        for point_id in ids:
            self._pending.pop(point_id, None)

    def get_best_points(self) -> list[dict[str, Any]]:
        """The measured point with the best posterior mean, as a one-element list of dicts.

        "Best" follows the acquisition's direction (``lcb`` or ``ei``/``pi`` with
        ``maximize=False`` minimize); otherwise the largest. The posterior mean, not the raw
        reading, picks it, so one noisy spike does not win. Keys: the dimensions, the value
        key (the measured value), ``"predicted_mean"`` and ``"_id"``.
        """
        self._require_data()
        mean = self.predict(self._X).mean
        i = int(np.argmin(mean) if self._acquisition.direction == "minimize" else np.argmax(mean))
        point = dict(zip(self._names, map(float, self._X[i]), strict=True))
        point[self._value_name] = float(self._y[i])
        point["predicted_mean"] = float(mean[i])
        point[ID_KEY] = self._point_ids[i]
        return [point]


def _json_id(value: Any) -> Any:
    """Keep ids JSON-able (ints and strings as they are, anything else as its string)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    return str(value)
