"""Rebuild an agent from a stored run, and read the decisions it recorded.

A stored autonomous run holds everything its model was made of: the
measurements (``primary`` stream), the agent's configuration (start document)
and, with every decision, the model state it decided with (``agent`` stream:
hyperparameters, the exact raw hyperparameter vector, the data sizes that fixed
the output scaling). :func:`replay` feeds the run's documents through the same
:class:`~gpsteer.callbacks.feeder.AgentFeeder` the live run used, then restores
that state: the posterior it returns equals the recorded one to rounding.

A resumed run (:func:`~gpsteer.plans.resume_plan`) links the run it continues in
its start document (``gpsteer.resumed_from``); replaying it follows that link, so
the whole chain is rebuilt.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from gpsteer.callbacks.feeder import AgentFeeder
from gpsteer.catalog.runs import run_documents
from gpsteer.catalog.store import Catalog
from gpsteer.errors import CatalogError, ConfigurationError, GpsteerError, InputError
from gpsteer.schema.agent_stream import STREAM, DecisionRecord
from gpsteer.schema.run_start import RunStart
from gpsteer.schema.target import TargetSpec

__all__ = ["read_decisions", "replay", "target_of"]

#: How many resumed runs a replay follows back before giving up (a loop guard).
_MAX_CHAIN = 1000
#: Seconds to try the scheduler a stored run trained on, when rebuilding its agent.
REPLAY_CONNECT_TIMEOUT = 1.0

logger = logging.getLogger(__name__)


class _DecisionReader:
    """A callback that parses the ``agent`` stream of one run (re-taken events once)."""

    def __init__(self) -> None:
        self.records: list[DecisionRecord] = []
        self._descriptors: set[str] = set()
        self._seen: set[tuple[str, int]] = set()
        self._motors: tuple[str, ...] = ()

    def __call__(self, name: str, doc: Mapping[str, Any]) -> None:
        if name == "start":
            self._motors = RunStart.from_start(doc).motors
        elif name == "descriptor" and doc.get("name") == STREAM:
            self._descriptors.add(doc["uid"])
        elif name == "event" and doc.get("descriptor") in self._descriptors:
            key = (doc["descriptor"], int(doc["seq_num"]))
            if key not in self._seen:
                self._seen.add(key)
                self.records.append(DecisionRecord.from_event(doc, self._motors))


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
    """The run's target as a :class:`TargetSpec`; ``target`` (user form) overrides it."""
    if target is not None:
        return TargetSpec.from_user(target)
    return TargetSpec.from_metadata(RunStart.from_start(start).target)


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
        parent_uid = RunStart.from_start(start).resumed_from
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
    meta = RunStart.from_start(start)
    feeder = AgentFeeder(None, meta.fields, target_of(start, target), bounds=meta.bounds)
    first = chain[0].metadata["start"]
    told_before = RunStart.from_start(first).agent_points_before_run
    if told_before > 0:
        raise ConfigurationError(
            f"the agent of run {first['uid'][:8]} held {told_before} points told outside any "
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
    from gpsteer.agent import Agent

    overrides = _replay_training(meta.agent, records[-1].training, agent_overrides)
    return Agent.from_snapshot(
        dict(meta.agent), record.state, X, y, None if nv is None else nv[:n], **overrides
    )


def _replay_training(
    configuration: Mapping[str, Any], recorded: Mapping[str, Any], overrides: Mapping[str, Any]
) -> dict[str, Any]:
    """``overrides``, with ``training`` chosen when the run's was an object a run cannot hold.

    The beamline profile's agents train on the session's ``distributed.Client``; a run
    stores only its description. Rebuilding such an agent needs no argument: it
    trains on the scheduler the run trained on (the ``address`` its ``agent`` stream
    recorded) while that still answers (the same session), inline otherwise.
    """
    overrides = dict(overrides)
    if "training" in overrides or not isinstance(configuration.get("training"), Mapping):
        return overrides
    from gpsteer.training import DaskTrainer

    address = recorded.get("address")
    overrides["training"] = "inline"
    if isinstance(address, str) and "://" in address:
        try:
            overrides["training"] = DaskTrainer(
                address=address, connect_timeout=REPLAY_CONNECT_TIMEOUT
            )
        except GpsteerError:
            pass
    where = "inline" if overrides["training"] == "inline" else f"on Dask at {address}"
    logger.info(
        "The run trained on %s, which a run cannot store; the rebuilt agent trains %s "
        "(pass training=... to choose).",
        configuration["training"].get("custom", "an object"),
        where,
    )
    return overrides
