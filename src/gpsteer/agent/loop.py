"""The measure-tell-ask loop outside Bluesky: for simulations, benchmarks and notebooks.

Inside Bluesky the plans in :mod:`gpsteer.plans` play this role; this loop follows the
same rules (:mod:`gpsteer.agent.stopping`: the first design, the stopping rules, the stop
reasons) with a plain function standing in for the instrument.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from gpsteer.agent.progress import Progress, ProgressBar
from gpsteer.agent.results import RunResult, Suggestion
from gpsteer.agent.stopping import StoppingRules, initial_design_size
from gpsteer.agent.validation import check_count
from gpsteer.errors import ConfigurationError, InputError

if TYPE_CHECKING:
    from gpsteer.agent.agent import Agent

__all__ = ["run_agent"]


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
    rules: StoppingRules,
    batch_size: int = 1,
    initial_points: int | None = None,
    progress: bool = True,
) -> RunResult:
    """Ask, measure with ``instrument(points (n, d)) -> values (n,)`` (or ``(values,
    variances)``), tell, until one of ``rules`` holds.

    Parameters
    ----------
    rules
        When to stop (:class:`~gpsteer.agent.stopping.StoppingRules`); at least one rule.
    batch_size
        Points per ask (chosen jointly, ordered for a short path).
    initial_points
        Size of the space-filling design when the agent has no data (default
        :func:`~gpsteer.agent.stopping.initial_design_size`).
    progress
        Show a progress bar (tqdm).
    """
    if not rules.bounded:
        raise ConfigurationError(
            "run() needs a stopping criterion: max_points, max_time, target_uncertainty or "
            "stop_when."
        )
    if not callable(instrument):
        raise InputError(f"instrument must be callable(points) -> values; got {instrument!r}.")
    batch_size = check_count(batch_size, "batch_size")
    if initial_points is None:
        initial_points = initial_design_size(agent.dim)
    n_init = check_count(initial_points, "initial_points")

    t0 = time.monotonic()
    measured, batches = 0, 0
    suggestions: list[Suggestion] = []
    uncertainty = math.nan
    bar = ProgressBar(rules.max_points, disable=not progress)
    try:
        while True:
            reason = rules.budget_reason(measured, time.monotonic() - t0)
            if reason is None:
                status = Progress(
                    points=measured,
                    max_points=rules.max_points,
                    elapsed=time.monotonic() - t0,
                    uncertainty=uncertainty,
                    decisions=batches,
                )
                reason, found = rules.model_reason(agent, status)
                uncertainty = found if math.isfinite(found) else uncertainty
            if reason is not None:
                break
            n = n_init if agent.n == 0 else batch_size
            if rules.max_points is not None:
                n = min(n, rules.max_points - measured)
            suggestion = agent.ask(n)
            values, variances = _measure(instrument, suggestion.points)
            agent.tell(suggestion.points, values, variances)
            suggestions.append(suggestion)
            measured += n
            batches += 1
            bar.update(
                Progress(measured, rules.max_points, time.monotonic() - t0, uncertainty, batches)
            )
    finally:
        bar.close()
    return RunResult(
        n_measured=measured,
        stop_reason=reason,
        elapsed_s=time.monotonic() - t0,
        n_batches=batches,
        max_uncertainty=None if math.isnan(uncertainty) else uncertainty,
        suggestions=tuple(suggestions),
    )
