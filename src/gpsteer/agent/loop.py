"""The measure-tell-ask loop outside Bluesky: for simulations, benchmarks and notebooks.

Inside Bluesky the plans in :mod:`gpsteer.plans` play this role; this loop is the same
logic with a plain function standing in for the instrument.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm.auto import tqdm

from gpsteer.agent.results import RunResult, Suggestion
from gpsteer.agent.validation import check_count, check_finite_float
from gpsteer.errors import ConfigurationError, InputError

if TYPE_CHECKING:
    from gpsteer.agent.agent import Agent

__all__ = ["default_initial_points", "run_agent"]


def default_initial_points(dim: int) -> int:
    """Size of the space-filling design before the first model: a power of 2, >= max(4, 2d)."""
    return 2 ** math.ceil(math.log2(max(4, 2 * dim)))


def _measure(
    instrument: Callable[[np.ndarray], Any], points: np.ndarray
) -> tuple[np.ndarray, np.ndarray | None]:
    result = instrument(points.copy())
    n = points.shape[0]
    if isinstance(result, tuple) and len(result) == 2 and np.ndim(result[0]) == 1:
        values, variances = result
        return np.asarray(values, dtype=float).reshape(-1), np.asarray(variances, dtype=float)
    values = np.asarray(result, dtype=float).reshape(-1)
    if values.shape != (n,):
        raise InputError(
            f"The instrument returned {values.size} value(s) for {n} point(s); it must return "
            "one value per point, or a tuple (values, variances)."
        )
    return values, None


def run_agent(
    agent: Agent,
    instrument: Callable[[np.ndarray], Any],
    *,
    max_points: int | None = None,
    batch_size: int = 1,
    max_time: float | None = None,
    target_uncertainty: float | None = None,
    stop_when: Callable[[Agent], bool] | None = None,
    initial_points: int | None = None,
    progress: bool = True,
) -> RunResult:
    """Ask, measure with ``instrument(points (n, d)) -> values (n,)`` (or ``(values,
    variances)``), tell, until a stopping criterion holds.

    Parameters
    ----------
    max_points
        Stop after this many measurements in this run.
    batch_size
        Points per ask (chosen jointly, ordered for a short path).
    max_time
        Stop when this many seconds have passed (checked between batches).
    target_uncertainty
        Stop when :meth:`Agent.max_uncertainty` (user units) is at most this.
    stop_when
        ``predicate(agent) -> bool``, checked between batches.
    initial_points
        Size of the space-filling design when the agent has no data (default
        :func:`default_initial_points`).
    progress
        Show a progress bar (tqdm).
    """
    if max_points is None and max_time is None and target_uncertainty is None and not stop_when:
        raise ConfigurationError(
            "run() needs a stopping criterion: max_points, max_time, target_uncertainty or "
            "stop_when."
        )
    if not callable(instrument):
        raise InputError(f"instrument must be callable(points) -> values; got {instrument!r}.")
    max_points = None if max_points is None else check_count(max_points, "max_points")
    batch_size = check_count(batch_size, "batch_size")
    max_time = None if max_time is None else check_finite_float(max_time, "max_time")
    if target_uncertainty is not None:
        target_uncertainty = check_finite_float(target_uncertainty, "target_uncertainty")
    n_init = default_initial_points(agent.dim) if initial_points is None else initial_points
    n_init = check_count(n_init, "initial_points")

    t0 = time.monotonic()
    measured, batches = 0, 0
    suggestions: list[Suggestion] = []
    uncertainty: float | None = None
    reason = ""
    with tqdm(total=max_points, disable=not progress, unit="pt", desc="gpsteer") as bar:
        while True:
            if max_points is not None and measured >= max_points:
                reason = "max_points"
                break
            if max_time is not None and time.monotonic() - t0 >= max_time:
                reason = "max_time"
                break
            if target_uncertainty is not None and agent.n:
                uncertainty = agent.max_uncertainty()
                if uncertainty <= target_uncertainty:
                    reason = "target_uncertainty"
                    break
            if stop_when is not None and stop_when(agent):
                reason = "stop_when"
                break
            n = n_init if agent.n == 0 else batch_size
            if max_points is not None:
                n = min(n, max_points - measured)
            suggestion = agent.ask(n)
            values, variances = _measure(instrument, suggestion.points)
            agent.tell(suggestion.points, values, variances)
            suggestions.append(suggestion)
            measured += n
            batches += 1
            bar.update(n)
            if uncertainty is not None:
                bar.set_postfix(max_std=f"{uncertainty:.3g}", refresh=False)
    return RunResult(
        n_measured=measured,
        stop_reason=reason,
        elapsed_s=time.monotonic() - t0,
        n_batches=batches,
        max_uncertainty=uncertainty,
        suggestions=tuple(suggestions),
    )
