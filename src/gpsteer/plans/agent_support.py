"""What the plans need of an agent beyond tell/ask: its training future, its state, cancelling.

Kept in one place so the plans' needs of an agent are visible at a glance. Everything
in this module except :func:`cancel_training` runs in the plan's decision thread, never
on the RunEngine loop.
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

__all__ = [
    "STATE_KEYS",
    "cancel_training",
    "default_agent",
    "model_snapshot",
    "points_in",
    "rebuild_agent",
    "replay_training",
    "training_future",
    "training_status",
]

#: The entries of ``agent.state().metadata`` recorded with each decision: with the
#: run's data and the start document's configuration they rebuild the posterior
#: exactly (:func:`gpsteer.plans.replay`). ``point_ids`` and ``pending`` grow with
#: the data and are not needed to rebuild a model, so they are left out.
STATE_KEYS = (
    "format",
    "format_version",
    "hyperparameters",
    "model_version",
    "n_first",
    "n_scale",
    "last_trained_n",
    "rng_state",
    "next_id",
)


def default_agent(bounds: np.ndarray, *, seed: int | None) -> Any:
    """The agent a plan builds when none is given: variance mapping, trained on Dask.

    Why Dask: training then overlaps the measurements (an embedded ``LocalCluster``
    on 127.0.0.1, started in the background at the first training and closed
    with the agent).
    """
    from gpsteer.agent import Agent

    return Agent(bounds=np.asarray(bounds).tolist(), seed=seed, training="dask")


def training_future(agent: Any) -> concurrent.futures.Future[Any] | None:
    """The agent's in-flight training job, or None."""
    return agent.training_future


def training_status(agent: Any) -> dict[str, Any]:
    """The agent's training status as a JSON-able dict (empty if it has none)."""
    status = agent.training_status()
    to_dict = getattr(status, "to_dict", None)
    return dict(to_dict()) if callable(to_dict) else {"status": repr(status)}


def cancel_training(agent: Any) -> None:
    """Cancel the agent's in-flight training without closing the agent.

    Why not ``agent.close()``: an agent the user passed in stays theirs to use
    after an aborted run; only the job that run started is cancelled. Safe on
    the RunEngine loop (cancelling never waits).
    """
    agent.cancel_training()


def model_snapshot(agent: Any) -> dict[str, Any]:
    """What a decision record keeps of the model: the state metadata that rebuilds it.

    Includes the raw hyperparameter vector ``theta`` (a list), exact to the bit
    through JSON.
    """
    state = agent.state()
    snapshot = {key: state.metadata[key] for key in STATE_KEYS if key in state.metadata}
    snapshot["theta"] = np.asarray(state.arrays.get("theta", []), dtype=np.float64).tolist()
    return snapshot


#: Seconds to try the scheduler a stored run trained on, when rebuilding its agent.
REPLAY_CONNECT_TIMEOUT = 1.0


def replay_training(
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
    from gpsteer.errors import GpsteerError
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


def rebuild_agent(
    configuration: dict[str, Any],
    snapshot: dict[str, Any],
    X: np.ndarray,
    y: np.ndarray,
    noise_variance: np.ndarray | None,
    overrides: dict[str, Any],
) -> Any:
    """An agent from a start document's configuration, one decision's snapshot and data."""
    from gpsteer.agent import Agent, AgentState

    metadata = {key: snapshot[key] for key in STATE_KEYS if key in snapshot}
    metadata["configuration"] = configuration
    metadata["point_ids"] = [None] * len(y)
    metadata["pending"] = []
    if snapshot.get("n_first") is None and len(y):
        # The recorded model held no data yet (a run that failed during its first
        # design): rebuild it empty and tell it the data, as its next decision would.
        metadata["point_ids"] = []
        empty = {"X": np.empty((0, X.shape[1])), "y": np.empty(0), "theta": np.empty(0)}
        agent = Agent.from_state(AgentState(metadata=metadata, arrays=empty), **overrides)
        agent.tell(X, y, noise_variance=noise_variance)
        return agent
    arrays = {"X": X, "y": y, "theta": np.asarray(snapshot.get("theta", []), dtype=np.float64)}
    if noise_variance is not None:
        arrays["noise_variance"] = noise_variance
    return Agent.from_state(AgentState(metadata=metadata, arrays=arrays), **overrides)


def points_in(points: Sequence[Sequence[float]] | np.ndarray, dim: int) -> np.ndarray:
    """``points`` as an ``(n, dim)`` float array."""
    return np.asarray(points, dtype=np.float64).reshape(-1, dim)
