"""``resume_plan``: continue a stored autonomous run in a new run.

A new run, linked to the old one in its start document (``gpsteer.resumed_from``),
whose agent starts from the replayed model (:func:`~gpsteer.catalog.replay`): the
old points are not measured again. Replaying a resumed run follows that link, so
the whole chain is rebuilt.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from typing import Any

from bluesky.utils import Msg

from gpsteer.catalog import Catalog
from gpsteer.catalog.replay import replay, target_of
from gpsteer.errors import ConfigurationError, InputError
from gpsteer.plans.autonomous import PLAN_DEFAULTS, prepare, start_metadata
from gpsteer.plans.execution import run_plan
from gpsteer.schema.run_start import RunStart

__all__ = ["resume_plan"]


def resume_plan(
    run: Any,
    detectors: Sequence[Any],
    space: Mapping[Any, tuple[float, float]],
    *,
    max_points: int,
    target: Any = None,
    agent: Any = None,
    catalog: Catalog | Any = None,
    md: Mapping[str, Any] | None = None,
    **plan_kwargs: Any,
) -> Generator[Msg, Any, str]:
    """Continue a stored autonomous run in a new run, without measuring its points again.

    The new run's agent is :func:`replay` of ``run`` (or ``agent``, if given, e.g.
    ``replay(run, training="dask")``), its start document links the old run
    (``gpsteer.resumed_from``), and ``initial_points`` defaults to one batch from
    the model. The motors must be the ones of the old run, in the same order.

    Parameters
    ----------
    run : stored run
        The run to continue (``catalog[uid]``).
    detectors, space, max_points, md
        As for :func:`~gpsteer.plans.autonomous_plan` (``max_points`` counts the
        new run's points only).
    target : optional
        Default: the old run's target.
    agent : Agent, optional
        Default: the replayed agent, closed when the plan ends.
    catalog : optional
        Needed when ``run`` itself was resumed and is not a tiled node.
    **plan_kwargs
        Passed to :func:`~gpsteer.plans.autonomous_plan` (``batch_size``,
        ``max_time``, ``target_uncertainty``, ``stop_when``, ``progress``, ...).
    """
    start = run.metadata["start"]
    old = RunStart.from_start(start)
    if "seed" in plan_kwargs:
        raise ConfigurationError("resume_plan continues the old agent; drop seed=")
    unknown = sorted(set(plan_kwargs) - set(PLAN_DEFAULTS))
    if unknown:
        raise InputError(
            f"resume_plan got unknown option(s) {unknown}; it takes autonomous_plan's "
            f"options: {sorted(set(PLAN_DEFAULTS) - {'agent', 'md', 'seed'})}"
        )
    old_target = target_of(start, target)
    names = [getattr(m, "name", None) for m in space]
    if names != list(old.motors):
        raise ConfigurationError(
            f"the old run moved {list(old.motors)}, in that order; "
            f"space has {names}. Give the same motors in the same order"
        )
    owns = agent is None
    if agent is None:
        agent = replay(run, catalog=catalog, target=target)
    try:
        options = {**PLAN_DEFAULTS, **plan_kwargs}
        del options["agent"], options["md"]  # given here
        setup = prepare(
            detectors,
            space,
            target=old_target.to_user(),
            agent=agent,
            max_points=max_points,
            md=md,
            owns_agent=owns,
            **options,
        )
    except BaseException:
        if owns:
            agent.close()
        raise
    setup.plan_name = "resume_plan"
    setup.resumed_from = start["uid"]
    setup.extra_plan_args = {"run": start["uid"]}
    return run_plan(setup, lambda built: start_metadata(setup, built))
