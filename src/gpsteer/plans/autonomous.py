"""``autonomous_plan``: map a quantity over a motor space, measuring where the agent chooses.

One run: a first decision (a space-filling design while the agent has no data),
then a loop of *decide* (ask the agent), *move*, *trigger and read*, until a
budget ends. The agent learns from the run's documents
(:class:`~gpsteer.callbacks.feeder.AgentFeeder`, subscribed for the plan), and
each decision is recorded in the run's ``agent`` stream
(:mod:`gpsteer.schema.agent_stream`). How the run stays responsive to pause and abort
is explained in :mod:`gpsteer.plans.execution`.

Everything is validated when the plan is *called*, before the RunEngine sees a
message (:mod:`gpsteer.plans.validation`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from bluesky.utils import Msg

from gpsteer.agent.progress import Progress
from gpsteer.agent.protocols import SteeringAgent
from gpsteer.agent.stopping import StoppingRules, initial_design_size
from gpsteer.errors import ConfigurationError, InputError
from gpsteer.plans.execution import run_plan
from gpsteer.plans.space import Space, make_space
from gpsteer.plans.validation import (
    check_agent,
    check_batch_size,
    check_initial_points,
    make_target,
)
from gpsteer.schema.run_start import KEY, RunStart
from gpsteer.schema.target import TargetSpec

__all__ = ["PLAN_DEFAULTS", "PlanSetup", "autonomous_plan"]


@dataclass
class PlanSetup:
    """The validated arguments of one autonomous plan."""

    detectors: tuple[Any, ...]
    space: Space
    target: TargetSpec
    agent: SteeringAgent | None
    owns_agent: bool
    rules: StoppingRules
    batch_size: int
    initial_count: int
    initial_points: np.ndarray | None
    md: dict[str, Any]
    progress: bool
    live_plot: Any
    seed: int | None
    final_training: bool
    pipeline: bool = True
    plan_name: str = "autonomous_plan"
    extra_plan_args: dict[str, Any] = field(default_factory=dict)
    resumed_from: str | None = None


def autonomous_plan(
    detectors: Sequence[Any],
    space: Mapping[Any, tuple[float, float]],
    *,
    target: str | tuple[str, str] | Callable[[Mapping[str, Any]], Any],
    agent: SteeringAgent | None = None,
    max_points: int,
    batch_size: int = 1,
    initial_points: int | np.ndarray | None = None,
    max_time: float | None = None,
    target_uncertainty: float | None = None,
    stop_when: Callable[[Any, Progress], bool] | None = None,
    md: Mapping[str, Any] | None = None,
    progress: bool = True,
    live_plot: Any = None,
    seed: int | None = None,
    final_training: bool = True,
    pipeline: bool = True,
) -> Generator[Msg, Any, str]:
    """Map a quantity over a motor space, measuring where the agent chooses.

    Parameters
    ----------
    detectors : sequence of Readable
        Triggered and read at every point (the motors are read too).
    space : mapping
        ``{motor: (lo, hi), ...}``; one model input per motor, in this order.
        Bounds must lie inside each motor's ``limits`` (``(0, 0)``: none).
    target : str, (str, str) or callable
        What the model learns: an event field (``"det"``), a field and its
        noise-variance field (``("saxs_q0", "saxs_q0_variance")``), or a
        reduction ``f(readings) -> value | (value, variance)`` for images and
        spectra, where ``readings`` maps event field names to values.
    agent : Agent, optional
        The agent to steer with: its dimension must equal the number of motors
        and its domain lie inside the space. It keeps learning after the run.
        Default: ``Agent(bounds=<space bounds>, seed=seed, training="dask")``,
        closed when the plan ends (rebuild it with :func:`~gpsteer.catalog.replay`).
    max_points : int
        Point budget of this run (first design included).
    batch_size : int
        Points chosen per decision.
    initial_points : int or array (n, d), optional
        The size of the first decision (a space-filling design when the agent
        has no data yet), or explicit positions measured before any decision.
        Default ``max(4, 4 d)`` capped by ``max_points``, or ``batch_size``
        when the agent already holds data.
    max_time : float, optional
        Time budget in seconds, checked before each point.
    target_uncertainty : float, optional
        Stop once ``agent.max_uncertainty()`` is at or below this (user units).
    stop_when : callable, optional
        ``stop_when(agent, progress) -> bool``, checked before each decision in
        the decision thread (it may take its time).
    md : mapping, optional
        Merged into the start document.
    progress : bool
        Show a tqdm progress bar (points of the budget, uncertainty, time).
    live_plot : LiveAgentPlot, optional
        A :class:`~gpsteer.callbacks.live_plot.LiveAgentPlot`, attached to the agent.
    seed : int, optional
        Seed of the default agent (give your own agent its own seed).
    final_training : bool
        At the end, train on all the data (waiting without blocking the
        RunEngine) so the stop event records the best final model. Skipped when
        the time budget ran out.
    pipeline : bool
        Decide the next point while the motors move to this one and the detectors
        expose (the decision sees every earlier measurement, and this point as
        pending), so the RunEngine does not wait for the agent between points.
        ``False`` decides after each measurement, on all of them (e.g. to compare
        with a run that did). An agent whose ``ask`` takes no ``pending=`` is
        always run in series.

    Returns
    -------
    str
        The run's uid (``yield from`` returns it; ``RE(...)`` returns it in a tuple).

    Raises
    ------
    InputError, UnknownNameError, ConfigurationError, ShapeError
        At call time, for arguments that cannot work (each message says what
        to change); no motor has moved.

    Examples
    --------
    >>> RE(autonomous_plan([det], {motor1: (-5, 5), motor2: (-5, 5)},
    ...                    target="det", max_points=100))  # doctest: +SKIP
    """
    setup = prepare(
        detectors,
        space,
        target=target,
        agent=agent,
        max_points=max_points,
        batch_size=batch_size,
        initial_points=initial_points,
        max_time=max_time,
        target_uncertainty=target_uncertainty,
        stop_when=stop_when,
        md=md,
        progress=progress,
        live_plot=live_plot,
        seed=seed,
        final_training=final_training,
        pipeline=pipeline,
    )
    return run_plan(setup, lambda built: start_metadata(setup, built))


#: The defaults of :func:`autonomous_plan`'s options, read from its signature (the one
#: place they are written); :func:`~gpsteer.plans.resume_plan` continues with them.
PLAN_DEFAULTS: dict[str, Any] = {
    name: parameter.default
    for name, parameter in inspect.signature(autonomous_plan).parameters.items()
    if parameter.kind is parameter.KEYWORD_ONLY and parameter.default is not parameter.empty
}


def prepare(
    detectors: Sequence[Any],
    space: Mapping[Any, tuple[float, float]],
    *,
    target: Any,
    agent: Any,
    max_points: Any,
    batch_size: Any,
    initial_points: Any,
    max_time: Any,
    target_uncertainty: Any,
    stop_when: Any,
    md: Mapping[str, Any] | None,
    progress: bool,
    live_plot: Any,
    seed: int | None,
    final_training: bool,
    pipeline: bool = True,
    owns_agent: bool = False,
) -> PlanSetup:
    """Validate the arguments of :func:`autonomous_plan`; see there."""
    if isinstance(detectors, (str, bytes)) or not isinstance(detectors, Sequence):
        raise InputError(f"detectors must be a list of readable devices, got {detectors!r}")
    detectors = tuple(detectors)
    if not detectors:
        raise InputError("detectors is empty; pass the detectors that read the target")
    for det in detectors:
        if not (callable(getattr(det, "read", None)) and callable(getattr(det, "describe", None))):
            raise InputError(f"detector {det!r} is not readable (needs read() and describe())")
    checked = make_space(space)
    spec = make_target(target, detectors, checked)
    if max_points is None:
        raise InputError("max_points must be a positive integer, got None")
    rules = StoppingRules(max_points, max_time, target_uncertainty, stop_when)
    batch_size = check_batch_size(batch_size)
    if agent is not None:
        check_agent(agent, checked)
        if seed is not None and not owns_agent:
            raise ConfigurationError(
                "seed= seeds the default agent; you passed an agent, so give it the seed "
                "instead (Agent(..., seed=...)) and drop seed="
            )
    n_known = 0 if agent is None else int(agent.n)
    explicit: np.ndarray | None = None
    if initial_points is None:
        count = initial_design_size(checked.dim, rules.max_points, n_known) or batch_size
    else:
        checked_initial = check_initial_points(initial_points, checked, rules.max_points)
        if isinstance(checked_initial, np.ndarray):
            explicit, count = checked_initial, 0
        else:
            count = checked_initial
    if live_plot is not None:
        if not callable(getattr(live_plot, "attach", None)):
            raise InputError(f"live_plot must be a LiveAgentPlot, got {live_plot!r}")
        if checked.dim > 2:
            raise ConfigurationError(
                f"live_plot draws 1-D and 2-D spaces; this space has {checked.dim} motors. "
                "Drop live_plot= for this plan"
            )
    if md is not None and not isinstance(md, Mapping):
        raise InputError(f"md must be a mapping, got {type(md).__name__}")
    return PlanSetup(
        detectors=detectors,
        space=checked,
        target=spec,
        agent=agent,
        owns_agent=owns_agent or agent is None,
        rules=rules,
        batch_size=batch_size,
        initial_count=count,
        initial_points=explicit,
        md=dict(md or {}),
        progress=bool(progress),
        live_plot=live_plot,
        seed=seed,
        final_training=bool(final_training),
        pipeline=bool(pipeline),
    )


def start_metadata(setup: PlanSetup, agent: SteeringAgent) -> dict[str, Any]:
    """The start document's metadata: plan, space, target, agent configuration, budgets."""
    space, rules = setup.space, setup.rules
    initial: Any = setup.initial_count
    if setup.initial_points is not None:
        initial = setup.initial_points.tolist()
    plan_args = {
        "detectors": [repr(d) for d in setup.detectors],
        "space": {n: list(b) for n, b in zip(space.names, space.bounds.tolist(), strict=True)},
        "target": setup.target.metadata(),
        "agent": "default" if setup.agent is None else repr(agent),
        "max_points": rules.max_points,
        "batch_size": setup.batch_size,
        "initial_points": initial,
        "max_time": rules.max_time,
        "target_uncertainty": rules.target_uncertainty,
        "stop_when": None if rules.stop_when is None else repr(rules.stop_when),
        "seed": setup.seed,
        "final_training": setup.final_training,
        "pipeline": setup.pipeline,
        **setup.extra_plan_args,
    }
    md: dict[str, Any] = {
        "plan_name": setup.plan_name,
        "plan_type": "generator",
        "plan_args": plan_args,
        "detectors": [d.name for d in setup.detectors],
        "motors": list(space.names),
        "hints": {"dimensions": [([f], "primary") for f in space.fields]},
        KEY: RunStart(
            space=space.axes(),
            target=setup.target.metadata(),
            agent=agent.configuration(),
            agent_points_before_run=int(agent.n),
            budgets={
                "max_points": rules.max_points,
                "batch_size": setup.batch_size,
                "max_time": rules.max_time,
                "target_uncertainty": rules.target_uncertainty,
            },
            resumed_from=setup.resumed_from,
            version=_gpsteer_version(),
        ).to_metadata(),
    }
    user = dict(setup.md)
    if isinstance(user.get(KEY), Mapping):  # merged into gpsteer's record, not replacing it
        md[KEY].update(user.pop(KEY))
    md.update(user)
    return md


def _gpsteer_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gpsteer")
    except PackageNotFoundError:
        return "unknown"
