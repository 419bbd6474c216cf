"""Rebuild an agent from a stored run, and continue a past experiment in a new run.

A stored autonomous run holds everything its model was made of: the
measurements (``primary`` stream), the agent's configuration (start document)
and, with every decision, the model state it decided with (``agent`` stream:
hyperparameters, the exact raw hyperparameter vector, the data sizes that fixed
the output scaling). :func:`replay` feeds the run's documents through the same
:class:`~gpsteer.plans.callback.AgentFeeder` the live run used, then restores
that state: the posterior it returns equals the recorded one to rounding.

:func:`resume_plan` continues an experiment: a new run, linked to the old one
in its start document (``gpsteer.resumed_from``), whose agent starts from the
replayed model — the old points are not measured again. Replaying a resumed
run follows that link, so the whole chain is rebuilt.
"""

from __future__ import annotations

import importlib
import json
import math
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from bluesky.utils import Msg

from gpsteer.errors import CatalogError, ConfigurationError, InputError
from gpsteer.plans import agent_support
from gpsteer.plans.callback import AgentFeeder
from gpsteer.plans.catalog import Catalog, run_documents
from gpsteer.plans.recorder import STREAM
from gpsteer.plans.validation import TargetSpec

__all__ = ["DecisionRecord", "read_decisions", "replay", "resume_plan", "target_of"]

#: How many resumed runs a replay follows back before giving up (a loop guard).
_MAX_CHAIN = 1000


@dataclass(frozen=True)
class DecisionRecord:
    """One event of a run's ``agent`` stream, parsed.

    ``position`` is the chosen point (NaN for the ``stop`` event);
    ``hyperparameters``, ``state`` and ``training`` are the decoded JSON fields.
    See :mod:`gpsteer.plans.recorder` for the meaning of each field.
    """

    seq_num: int
    time: float
    action: str
    decision: int
    batch_index: int
    position: np.ndarray
    acquisition: str
    acquisition_value: float
    predicted_mean: float
    predicted_std: float
    model_version: int
    n_points: int
    hyperparameters: dict[str, Any]
    state: dict[str, Any]
    training: dict[str, Any]
    fallback: bool
    message: str
    max_uncertainty: float
    decision_time: float
    stop_reason: str


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


def _record(doc: Mapping[str, Any], position_fields: Sequence[str]) -> DecisionRecord:
    data = doc["data"]
    return DecisionRecord(
        seq_num=int(doc["seq_num"]),
        time=float(doc["time"]),
        action=str(data["agent_action"]),
        decision=int(data["agent_decision"]),
        batch_index=int(data["agent_batch_index"]),
        position=np.array([_float(data[f]) for f in position_fields]),
        acquisition=str(data["agent_acquisition"]),
        acquisition_value=_float(data["agent_acquisition_value"]),
        predicted_mean=_float(data["agent_predicted_mean"]),
        predicted_std=_float(data["agent_predicted_std"]),
        model_version=int(data["agent_model_version"]),
        n_points=int(data["agent_n_points"]),
        hyperparameters=json.loads(data["agent_hyperparameters"] or "{}"),
        state=json.loads(data["agent_state"] or "{}"),
        training=json.loads(data["agent_training"] or "{}"),
        fallback=bool(data["agent_fallback"]),
        message=str(data["agent_message"]),
        max_uncertainty=_float(data["agent_max_uncertainty"]),
        decision_time=_float(data["agent_decision_time"]),
        stop_reason=str(data["agent_stop_reason"]),
    )


def _gpsteer_start(start: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = start.get("gpsteer")
    if not isinstance(meta, Mapping) or "space" not in meta or "agent" not in meta:
        raise InputError(
            f"run {start.get('uid', '?')[:8]} (plan {start.get('plan_name')!r}) was not "
            "recorded by gpsteer's autonomous_plan; pick a run whose plan_name is "
            "'autonomous_plan' or 'resume_plan'"
        )
    return meta


class _DecisionReader:
    """A callback that parses the ``agent`` stream of one run (re-taken events once)."""

    def __init__(self) -> None:
        self.records: list[DecisionRecord] = []
        self._fields: dict[str, tuple[str, ...]] = {}
        self._seen: set[tuple[str, int]] = set()
        self.start: dict[str, Any] = {}
        self.stop: dict[str, Any] = {}
        self._names: tuple[str, ...] = ()

    def __call__(self, name: str, doc: Mapping[str, Any]) -> None:
        if name == "start":
            self.start = dict(doc)
            space = _gpsteer_start(doc)["space"]
            self._names = tuple(f"{STREAM}_{entry['motor']}" for entry in space)
        elif name == "stop":
            self.stop = dict(doc)
        elif name == "descriptor" and doc.get("name") == STREAM:
            self._fields[doc["uid"]] = self._names
        elif name == "event" and doc.get("descriptor") in self._fields:
            key = (doc["descriptor"], int(doc["seq_num"]))
            if key not in self._seen:
                self._seen.add(key)
                self.records.append(_record(doc, self._fields[doc["descriptor"]]))


def _documents(run: Any) -> Iterable[tuple[str, Mapping[str, Any]]]:
    if isinstance(run, Iterable) and not hasattr(run, "metadata"):
        return run  # already a sequence of (name, doc) pairs
    return run_documents(run)


def read_decisions(run: Any) -> list[DecisionRecord]:
    """The decisions recorded in ``run``'s ``agent`` stream, in order.

    ``run`` is a stored run (``catalog[uid]``) or a list of ``(name, doc)`` pairs.
    """
    reader = _DecisionReader()
    for name, doc in _documents(run):
        reader(name, doc)
    return reader.records


def target_of(start: Mapping[str, Any], target: Any = None) -> TargetSpec:
    """The run's target as a :class:`TargetSpec`; ``target`` overrides it.

    A reduction is re-imported by its qualified name when it is a module-level
    function; otherwise pass it again.
    """
    if target is not None:
        if callable(target) and not isinstance(target, str):
            return TargetSpec(reduction=target)
        if isinstance(target, str):
            return TargetSpec(field=target)
        field, variance_field = target
        return TargetSpec(field=field, variance_field=variance_field)
    meta = _gpsteer_start(start)["target"]
    if meta.get("kind") == "field":
        return TargetSpec(field=meta["field"], variance_field=meta.get("variance_field"))
    name = meta.get("name") or ""
    reduction = _import(name)
    if reduction is None:
        raise ConfigurationError(
            f"this run's target was the reduction {name!r}, which cannot be imported by "
            "name (a lambda or a local function); pass it again: replay(run, target=...)"
        )
    return TargetSpec(reduction=reduction)


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


def _runs_container(run: Any, catalog: Any) -> Any:
    if isinstance(catalog, Catalog):
        catalog.flush()
        return catalog.runs
    if catalog is not None:
        return catalog
    parent = getattr(run, "parent", None)
    if parent is None:
        raise CatalogError(
            "this run was resumed from another run; pass the catalog that holds both: "
            "replay(run, catalog=catalog)"
        )
    return parent


def _chain(run: Any, catalog: Any) -> list[Any]:
    """``run`` and the runs it was resumed from, oldest first."""
    chain = [run]
    while True:
        start = chain[0].metadata["start"]
        parent_uid = _gpsteer_start(start).get("resumed_from")
        if not parent_uid:
            return chain
        if len(chain) > _MAX_CHAIN:
            raise CatalogError(f"the chain of resumed runs is longer than {_MAX_CHAIN}")
        try:
            chain.insert(0, _runs_container(run, catalog)[parent_uid])
        except KeyError as exc:
            raise CatalogError(
                f"run {start['uid'][:8]} was resumed from run {parent_uid[:8]}, which is not "
                "in this catalog; open the catalog that holds it"
            ) from exc


def replay(
    run: Any,
    *,
    upto: int | None = None,
    catalog: Catalog | Any = None,
    target: Any = None,
    **agent_overrides: Any,
) -> Any:
    """Rebuild the agent of a stored autonomous run.

    Parameters
    ----------
    run : stored run or str
        ``catalog[uid]`` (a tiled ``BlueskyRun``), or a uid with ``catalog``.
    upto : int, optional
        Rebuild the model that made decision record ``upto`` (an index into
        :func:`read_decisions`; negative counts from the end): its data and its
        hyperparameters. Default: all the data, with the last recorded model
        (the stop event's, after the final training).
    catalog : Catalog or tiled container, optional
        Where the run (and, for a resumed run, its predecessors) is stored.
    target : optional
        The target, when the run's was a reduction that cannot be imported.
    **agent_overrides
        Passed to ``Agent.from_state`` (e.g. ``training="inline"``, or the
        objects a configuration cannot hold: custom kernels, callables). A run that
        trained on a ``distributed.Client`` or a trainer object (the beamline
        profile's agents) needs no ``training=``: the rebuilt agent trains on the
        scheduler the run recorded, if it still answers, and inline otherwise.

    Returns
    -------
    Agent
        Its ``predict`` reproduces the recorded ``agent_predicted_mean`` and
        ``agent_predicted_std`` of decision ``upto`` (to rounding, ~1e-12).
    """
    if isinstance(run, str):
        if catalog is None:
            raise InputError("replay(uid) needs the catalog: replay(uid, catalog=catalog)")
        run = _runs_container(None, catalog)[run]
    chain = _chain(run, catalog)
    start = chain[-1].metadata["start"]
    meta = _gpsteer_start(start)
    space = meta["space"]
    feeder = AgentFeeder(
        None,
        [entry["field"] for entry in space],
        target_of(start, target),
        bounds=[(entry["lo"], entry["hi"]) for entry in space],
    )
    first = chain[0].metadata["start"]
    if int(_gpsteer_start(first).get("agent_points_before_run") or 0) > 0:
        raise ConfigurationError(
            f"the agent of run {first['uid'][:8]} held "
            f"{_gpsteer_start(first)['agent_points_before_run']} points told outside any "
            "run before it started; the catalog cannot rebuild those. Save the agent with "
            "agent.state() to keep such data"
        )
    reader = _DecisionReader()
    for link in chain:
        reader.records.clear()
        for name, doc in _documents(link):
            feeder(name, doc)
            reader(name, doc)
    records = reader.records
    if not records:
        raise CatalogError(
            f"run {start['uid'][:8]} has no '{STREAM}' events: it stopped before the first "
            "decision, so there is no model to rebuild"
        )
    record = records[-1] if upto is None else records[upto]
    n = feeder.n if upto is None else record.n_points
    X, y, nv = feeder.X[:n], feeder.y[:n], feeder.noise_variance
    overrides = agent_support.replay_training(meta["agent"], records[-1].training, agent_overrides)
    return agent_support.rebuild_agent(
        meta["agent"], record.state, X, y, None if nv is None else nv[:n], overrides
    )


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
    from gpsteer.plans.autonomous import prepare, start_metadata
    from gpsteer.plans.execution import run_plan

    start = run.metadata["start"]
    old = _gpsteer_start(start)
    if "seed" in plan_kwargs:
        raise ConfigurationError("resume_plan continues the old agent; drop seed=")
    old_target = target_of(start, target)
    names = [getattr(m, "name", None) for m in space]
    if names != [entry["motor"] for entry in old["space"]]:
        raise ConfigurationError(
            f"the old run moved {[e['motor'] for e in old['space']]}, in that order; "
            f"space has {names}. Give the same motors in the same order"
        )
    owns = agent is None
    if agent is None:
        agent = replay(run, catalog=catalog, target=target)
    target_arg: Any = old_target.reduction
    if target_arg is None:
        target_arg = (
            old_target.field
            if old_target.variance_field is None
            else (old_target.field, old_target.variance_field)
        )
    user_md = dict(md or {})
    user_md.setdefault("gpsteer", {})["resumed_from"] = start["uid"]
    try:
        setup = prepare(
            detectors,
            space,
            target=target_arg,
            agent=agent,
            max_points=max_points,
            md=user_md,
            owns_agent=owns,
            **{
                "batch_size": 1,
                "initial_points": None,
                "max_time": None,
                "target_uncertainty": None,
                "stop_when": None,
                "progress": True,
                "live_plot": None,
                "seed": None,
                "final_training": True,
                **plan_kwargs,
            },
        )
    except BaseException:
        if owns:
            agent.close()
        raise
    setup.plan_name = "resume_plan"
    setup.extra_plan_args = {"run": start["uid"]}
    return run_plan(setup, lambda built: start_metadata(setup, built))
