"""How an autonomous loop starts and when it stops: one set of rules for both loops.

:meth:`Agent.run <gpsteer.agent.Agent.run>` (a plain function as the instrument) and
:func:`~gpsteer.plans.autonomous_plan` (a Bluesky run) measure the same way: a
space-filling first design of :func:`initial_design_size` points, then a decision
at a time until one of the :class:`StoppingRules` holds; why is a
:class:`StopReason`.
"""

from __future__ import annotations

import enum
import inspect
import math
import numbers
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gpsteer.agent.progress import Progress
from gpsteer.errors import InputError

__all__ = ["StopReason", "StoppingRules", "initial_design_size", "predicate_of_two"]


class StopReason(str, enum.Enum):
    """Why an autonomous loop stopped (a run's stop document ``reason``).

    The members are strings (``StopReason.MAX_POINTS == "max_points"``), so code
    comparing with the names keeps working.
    """

    #: The point budget was measured.
    MAX_POINTS = "max_points"
    #: The time budget ran out.
    MAX_TIME = "max_time"
    #: The model's largest uncertainty fell to the target.
    TARGET_UNCERTAINTY = "target_uncertainty"
    #: The user's ``stop_when(agent, progress)`` said so.
    STOP_WHEN = "stop_when"
    #: The agent suggested no point (e.g. every allowed candidate is measured).
    NO_SUGGESTION = "no_suggestion"
    #: A scientist asked for a stop (``agent.stop_after_current()``).
    REQUESTED = "requested"

    def __str__(self) -> str:
        return self.value


def initial_design_size(dim: int, max_points: int | None = None, n_known: int = 0) -> int:
    """Points of the space-filling design measured before the first model.

    Why ``4 d`` (at least 4): enough for a first length-scale estimate per input,
    small next to the budgets of a mapping run. Capped by ``max_points``; 0 when the
    agent already holds data (a resumed run, a second ``run``): its model chooses
    from the start.
    """
    if n_known > 0:
        return 0
    size = max(4, 4 * int(dim))
    return size if max_points is None else min(int(max_points), size)


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _positive(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{name} must be a positive number or None, got {value!r}")
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise InputError(f"{name} must be a positive finite number or None, got {value!r}")
    return value


def predicate_of_two(
    stop_when: Callable[..., bool], *, stacklevel: int = 3
) -> Callable[[Any, Progress], bool]:
    """``stop_when`` as ``f(agent, progress)``; a one-argument ``f(agent)`` is wrapped.

    ``Agent.run`` used to call ``stop_when(agent)``; such predicates keep working for
    one release, with a DeprecationWarning (``stacklevel`` as for ``warnings.warn``,
    counted from the caller of this function).
    """
    try:
        inspect.signature(stop_when).bind(None, None)
    except TypeError:
        try:
            inspect.signature(stop_when).bind(None)
        except TypeError:
            return stop_when  # let the call say what is wrong
        warnings.warn(
            "stop_when(agent) is deprecated: write stop_when(agent, progress), which also "
            "gets the run's Progress (points, elapsed time, uncertainty)",
            DeprecationWarning,
            stacklevel=stacklevel,
        )
        return lambda agent, progress: stop_when(agent)
    except ValueError:  # no signature (a builtin): call it as documented
        pass
    return stop_when


@dataclass(frozen=True)
class StoppingRules:
    """When an autonomous loop stops; any rule that holds stops it.

    Attributes
    ----------
    max_points : int or None
        Point budget (the first design included).
    max_time : float or None
        Time budget, seconds since the loop started; checked before each point.
    target_uncertainty : float or None
        Stop once ``agent.max_uncertainty()`` (user units) is at or below this.
    stop_when : callable or None
        ``stop_when(agent, progress) -> bool``, checked before each decision.

    Raises
    ------
    InputError
        At construction, for a budget that is not positive and finite, or a
        ``stop_when`` that is not callable.
    """

    max_points: int | None = None
    max_time: float | None = None
    target_uncertainty: float | None = None
    stop_when: Callable[[Any, Progress], bool] | None = None

    def __post_init__(self) -> None:
        if self.max_points is not None and (not _is_int(self.max_points) or self.max_points < 1):
            raise InputError(f"max_points must be a positive integer, got {self.max_points!r}")
        if self.stop_when is not None and not callable(self.stop_when):
            raise InputError(
                "stop_when must be a callable stop_when(agent, progress) -> bool, got "
                f"{self.stop_when!r}"
            )
        max_points = None if self.max_points is None else int(self.max_points)
        object.__setattr__(self, "max_points", max_points)
        object.__setattr__(self, "max_time", _positive("max_time", self.max_time))
        target = _positive("target_uncertainty", self.target_uncertainty)
        object.__setattr__(self, "target_uncertainty", target)

    @property
    def bounded(self) -> bool:
        """Whether some rule can stop the loop."""
        return any(
            rule is not None
            for rule in (self.max_points, self.max_time, self.target_uncertainty, self.stop_when)
        )

    def budget_reason(self, points: int, elapsed: float) -> StopReason | None:
        """The point or time budget that is spent, checked before each point; else None."""
        if self.max_points is not None and points >= self.max_points:
            return StopReason.MAX_POINTS
        if self.max_time is not None and elapsed >= self.max_time:
            return StopReason.MAX_TIME
        return None

    def model_reason(self, agent: Any, progress: Progress) -> tuple[StopReason | None, float]:
        """The model-based rule that holds before a decision, and the uncertainty found.

        ``stop_when`` first, then the target uncertainty: ``agent.max_uncertainty()``
        is a search over the domain, computed only when a target is set and the agent
        holds data (NaN otherwise).
        """
        take_stop = getattr(agent, "take_stop_request", None)
        if take_stop is not None and take_stop() is not None:
            return StopReason.REQUESTED, math.nan
        if self.stop_when is not None and self.stop_when(agent, progress):
            return StopReason.STOP_WHEN, math.nan
        if self.target_uncertainty is not None and agent.n > 0:
            uncertainty = float(agent.max_uncertainty())
            if uncertainty <= self.target_uncertainty:
                return StopReason.TARGET_UNCERTAINTY, uncertainty
            return None, uncertainty
        return None, math.nan
