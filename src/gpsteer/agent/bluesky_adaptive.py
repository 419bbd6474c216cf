"""bluesky-adaptive 1.0's ``Optimizer`` protocol, as an adapter over the agent.

``suggest(num_points) -> list[dict]`` with a unique ``"_id"`` and one key per
dimension; ``ingest(points)`` takes dicts with the value key and either the ``"_id"``
of a pending suggestion (what ``bluesky_adaptive.plans.optimize`` passes: outcomes
carry no positions) or the dimension keys (measurements from elsewhere);
``get_best_points()`` reports the best measured point as ``(id, parameters,
outcomes)``. Points suggested and not yet ingested are *pending*: later suggestions
avoid them. The optional protocols: ``register_suggestions`` (points chosen by
someone else, given ids and made pending) and ``register_failures`` (suggestions
that were not measured stop being pending). Tested with the real package
(``tests/system/test_bluesky_adaptive.py``).

:class:`OptimizerAdapter` uses only the agent's public API (``ask``, ``tell``,
``predict``, ``X``, ``y``, ``point_ids``, ...); what it keeps itself (the next id,
the pending points) is part of the agent's state (:meth:`state`, :meth:`restore`).
The :class:`~gpsteer.agent.Agent` holds one and answers the three calls through it.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from gpsteer.agent.validation import check_points
from gpsteer.errors import InputError, NotFittedError

if TYPE_CHECKING:
    from gpsteer.agent.agent import Agent

__all__ = ["ID_KEY", "OptimizerAdapter"]

ID_KEY = "_id"


class OptimizerAdapter:
    """bluesky-adaptive's ``Optimizer`` protocol for ``agent``."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.next_id = 0
        self.pending: dict[int, list[float]] = {}

    def suggest(self, num_points: int | None = None) -> list[dict[str, Any]]:
        """``num_points`` (default 1) points as dicts ``{"_id": int, "x0": ..., ...}``."""
        n = 1 if num_points is None else num_points
        pending = np.array(list(self.pending.values())) if self.pending else None
        suggestion = self.agent.ask(n, pending=pending)
        names = self.agent.dimension_names
        out = []
        for x in suggestion.points:
            point_id = self.next_id
            self.next_id += 1
            self.pending[point_id] = [float(v) for v in x]
            out.append({ID_KEY: point_id, **dict(zip(names, map(float, x), strict=True))})
        return out

    def register_suggestions(self, suggestions: Sequence[Mapping[str, Any]]) -> list[dict]:
        """Points chosen elsewhere (dicts with the dimension keys): give each a new
        ``"_id"`` (any given one is replaced) and keep it pending, as if suggested."""
        names = self.agent.dimension_names
        rows = []
        for i, p in enumerate(suggestions):
            absent = [k for k in names if not isinstance(p, Mapping) or k not in p]
            if absent:
                raise InputError(f"Suggestion {i} lacks key(s) {absent}; each needs {list(names)}.")
            rows.append([p[k] for k in names])
        X = check_points(rows, self.agent.bounds, "suggestions")
        out = []
        for p, x in zip(suggestions, X, strict=True):
            point_id = self.next_id
            self.next_id += 1
            self.pending[point_id] = [float(v) for v in x]
            out.append({**p, ID_KEY: point_id})
        return out

    def register_failures(self, suggestions: Sequence[Mapping[str, Any]]) -> None:
        """Suggestions that will not be measured (the acquisition failed): no longer
        pending, so later suggestions may go there again."""
        for p in suggestions:
            self.pending.pop(_json_id(p.get(ID_KEY)) if isinstance(p, Mapping) else None, None)

    def ingest(self, points: Sequence[Mapping[str, Any]]) -> None:
        """Tell the agent measured points given as dicts: the value key, and the
        ``"_id"`` of a pending suggestion or the dimension keys (optionally
        ``"<value_name>_variance"``); all are checked first."""
        if isinstance(points, Mapping):
            points = [points]
        if not points:
            raise InputError("ingest() got no points.")
        names, value_name = self.agent.dimension_names, self.agent.value_name
        var_key = f"{value_name}_variance"
        rows, values, variances, ids = [], [], [], []
        for i, p in enumerate(points):
            if not isinstance(p, Mapping):
                raise InputError(f"Point {i} must be a dict; got {type(p).__name__}.")
            rows.append(self._position_of(i, p, names))
            if value_name not in p:
                raise InputError(
                    f"Point {i} lacks the value key {value_name!r} (the agent's value_name; "
                    f"keys given: {sorted(p)}). Name the agent's value after the outcome: "
                    f"Agent(..., value_name=...)."
                )
            values.append(p[value_name])
            variances.append(p.get(var_key))
            ids.append(_json_id(p.get(ID_KEY)))
        has_var = [v is not None for v in variances]
        if any(has_var) and not all(has_var):
            raise InputError(f"Give {var_key!r} for every point in a call, or for none.")
        self.agent.tell(rows, values, variances if all(has_var) else None, ids=ids)
        for point_id in ids:
            self.pending.pop(point_id, None)

    def _position_of(self, i: int, p: Mapping[str, Any], names: Sequence[str]) -> list[Any]:
        """The point's dimension keys, or else the position of its pending suggestion."""
        if all(k in p for k in names):
            return [p[k] for k in names]
        point_id = _json_id(p.get(ID_KEY))
        if point_id in self.pending:
            return list(self.pending[point_id])
        absent = [k for k in names if k not in p]
        said = "no '_id'" if point_id is None else f"'_id' {point_id!r}, not a pending suggestion"
        raise InputError(
            f"Point {i} lacks key(s) {absent} and has {said}; give the position (keys "
            f"{list(names)}, the agent's dimension_names) or the '_id' of a suggestion."
        )

    def get_best_points(self) -> list[tuple[Any, dict[str, float], dict[str, float]]]:
        """The measured point with the best posterior mean: ``[(id, parameters, outcomes)]``.

        "Best" follows the acquisition's direction (``lcb`` or ``ei``/``pi`` with
        ``maximize=False`` minimize); otherwise the largest. The posterior mean, not the raw
        reading, picks it, so one noisy spike does not win. ``parameters``: the dimension
        keys; ``outcomes``: the value key (the measured value) and ``"predicted_mean"``.
        """
        agent = self.agent
        if agent.n == 0:
            raise NotFittedError("The agent has no data yet; tell() it some measurements first.")
        X = agent.X
        mean = agent.predict(X).mean
        minimize = agent.acquisition.direction == "minimize"
        i = int(np.argmin(mean) if minimize else np.argmax(mean))
        parameters = dict(zip(agent.dimension_names, map(float, X[i]), strict=True))
        outcomes = {agent.value_name: float(agent.y[i]), "predicted_mean": float(mean[i])}
        return [(agent.point_ids[i], parameters, outcomes)]

    # -- state --------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """What the adapter keeps, JSON-able: ``next_id`` and the ``pending`` points."""
        return {"next_id": self.next_id, "pending": [[i, p] for i, p in self.pending.items()]}

    def restore(self, metadata: Mapping[str, Any]) -> None:
        """Take back what :meth:`state` returned (missing keys: nothing pending)."""
        self.next_id = int(metadata.get("next_id", 0))
        self.pending = {int(i): list(p) for i, p in metadata.get("pending", [])}


def _json_id(value: Any) -> Any:
    """Keep ids JSON-able (ints and strings as they are, anything else as its string)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    return str(value)
