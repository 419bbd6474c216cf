"""An agent's complete state as JSON-able metadata plus numpy arrays.

Metadata holds the configuration, hyperparameters and bookkeeping; arrays hold the
data (in user units, as measured) and the exact raw hyperparameter vector. That split
maps onto Bluesky documents (metadata in a start or event document, arrays as data)
and onto one ``.npz`` file (:meth:`AgentState.save`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gpsteer.errors import ConfigurationError, InputError

__all__ = ["SNAPSHOT_KEYS", "STATE_FORMAT", "STATE_VERSION", "AgentState"]

STATE_FORMAT = "gpsteer.agent_state"
STATE_VERSION = 1
#: The entries of the state metadata a snapshot keeps (:meth:`Agent.snapshot`): with the
#: data and the configuration they rebuild the posterior exactly. ``point_ids`` and
#: ``pending`` grow with the data and are not needed to rebuild a model, so they are
#: left out.
SNAPSHOT_KEYS = (
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


@dataclass(frozen=True)
class AgentState:
    """What :meth:`Agent.state` returns and :meth:`Agent.from_state` takes.

    ``metadata`` is JSON-able (``json.dumps`` works); ``arrays`` maps names to numpy
    arrays: ``X`` ``(n, d)``, ``y`` ``(n,)``, optional ``noise_variance`` ``(n,)``,
    ``theta`` (raw trainable hyperparameters) and optional ``candidates``.
    """

    metadata: dict[str, Any]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def check(self) -> None:
        """Raise :class:`ConfigurationError` if this is not a state this version can load."""
        fmt = self.metadata.get("format")
        version = self.metadata.get("format_version")
        if fmt != STATE_FORMAT:
            raise ConfigurationError(f"Not a gpsteer agent state (format {fmt!r}).")
        if version != STATE_VERSION:
            raise ConfigurationError(
                f"Agent state format version {version} is not supported by this gpsteer "
                f"(supports {STATE_VERSION}); load it with the gpsteer version that wrote it."
            )
        for name in ("X", "y", "theta"):
            if name not in self.arrays:
                raise ConfigurationError(f"Agent state lacks the array {name!r}.")

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write one ``.npz`` file: the arrays plus the metadata as a JSON string."""
        arrays = {f"array_{k}": np.asarray(v) for k, v in self.arrays.items()}
        np.savez(path, metadata=np.array(json.dumps(self.metadata)), **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> AgentState:
        """Read a file written by :meth:`save`."""
        try:
            with np.load(path, allow_pickle=False) as f:
                metadata = json.loads(str(f["metadata"]))
                arrays = {k[len("array_") :]: f[k] for k in f.files if k.startswith("array_")}
        except (OSError, KeyError, ValueError) as exc:
            raise InputError(f"Cannot read an agent state from {os.fspath(path)!r}: {exc}") from exc
        state = cls(metadata=metadata, arrays=arrays)
        state.check()
        return state


def capture(agent: Any) -> AgentState:
    """The state of ``agent`` (an :class:`~gpsteer.agent.Agent`); see :meth:`Agent.state`."""
    gp = agent.gp
    metadata = {
        "format": STATE_FORMAT,
        "format_version": STATE_VERSION,
        "configuration": agent.configuration(),
        "hyperparameters": gp.hyperparameters() if agent.n else {},
        "model_version": agent._version,
        "n_first": agent._n_first,
        "n_scale": agent._n_scale,
        "last_trained_n": agent._last_trained_n,
        "rng_state": agent._rng.bit_generator.state,
        "next_id": agent._next_id,
        "pending": [[i, list(p)] for i, p in agent._pending.items()],
        "point_ids": list(agent._point_ids),
    }
    arrays = {
        "X": agent.X,
        "y": agent.y,
        "theta": gp.theta.detach().cpu().numpy().copy() if agent.n else np.empty(0),
    }
    if agent._nv is not None:
        arrays["noise_variance"] = agent._nv.copy()
    if agent._candidates is not None:
        arrays["candidates"] = agent._candidates.copy()
    return AgentState(metadata=metadata, arrays=arrays)


_OBJECT_OPTIONS = ("kernel", "mean", "noise", "training")


def restore(cls: type, state: AgentState, overrides: dict[str, Any]) -> Any:
    """Rebuild an agent of class ``cls`` from ``state``; see :meth:`Agent.from_state`."""
    from gpsteer.acquisition import MotionCost, OptimizerSettings

    if not isinstance(state, AgentState):
        raise InputError(f"from_state needs an AgentState; got {type(state).__name__}.")
    state.check()
    meta, arrays = state.metadata, state.arrays
    cfg = meta["configuration"]
    kwargs: dict[str, Any] = {
        k: cfg[k]
        for k in (
            "dimension_names",
            "value_name",
            "kernel",
            "mean",
            "noise",
            "training",
            "acquisition",
            "output_transform",
            "train_schedule",
            "seed",
            "device",
            "num_threads",
        )
    }
    kwargs["motion_cost"] = MotionCost(**cfg["motion_cost"]) if cfg["motion_cost"] else None
    kwargs["optimizer"] = OptimizerSettings(**cfg["optimizer"])
    kwargs["candidates"] = arrays.get("candidates")
    missing = [k for k in _OBJECT_OPTIONS if isinstance(cfg[k], dict) and k not in overrides]
    if cfg["acquisition"].get("callable") and "acquisition" not in overrides:
        missing.append("acquisition")
    if cfg["constraints"] and "constraints" not in overrides:
        missing.append("constraints")
    if missing:
        raise ConfigurationError(
            f"The state's {missing} were Python objects a state cannot hold ("
            + ", ".join(f"{k}={cfg[k]!r}" for k in missing if k in cfg)
            + "); pass them again: Agent.from_state(state, "
            + ", ".join(f"{k}=..." for k in missing)
            + ")."
        )
    kwargs.update(overrides)
    agent = cls(bounds=cfg["bounds"], **kwargs)
    X, y = np.asarray(arrays["X"], dtype=float), np.asarray(arrays["y"], dtype=float)
    nv = arrays.get("noise_variance")
    if y.size:
        _replay(agent, X, y, nv, int(meta["n_first"]), int(meta["n_scale"]))
        agent.gp.set_hyperparameters(meta["hyperparameters"])
        agent.gp.set_theta(np.asarray(arrays["theta"], dtype=float))
        agent._model_key = (tuple(agent.gp.theta.cpu().tolist()), agent.gp.y_scale)
    agent._version = int(meta["model_version"])
    agent._last_trained_n = meta["last_trained_n"]
    if "seed" not in overrides:
        agent._rng.bit_generator.state = meta["rng_state"]
    agent._next_id = int(meta["next_id"])
    agent._pending = {i: list(p) for i, p in meta["pending"]}
    agent._point_ids = list(meta["point_ids"])
    return agent


def _replay(agent: Any, X: np.ndarray, y: np.ndarray, nv: Any, n_first: int, n_scale: int) -> None:
    """Give the GP the data in the steps that fixed its scaling: the first batch (which set
    the prior mean's bounds), the data at the last rescaling, then the rest."""
    transform, gp = agent._transform, agent.gp
    ym = transform.forward(y)
    nvm = None if nv is None else transform.forward_variance(y, np.asarray(nv, dtype=float))

    def part(sl: slice) -> tuple[Any, ...]:
        return X[sl], ym[sl], None if nvm is None else nvm[sl]

    gp.set_data(*part(slice(0, n_first)))
    if n_scale != n_first:
        gp.set_data(*part(slice(0, n_scale)))
    if n_scale < y.size:
        gp.append(*part(slice(n_scale, None)))
    agent._X, agent._y = X.copy(), y.copy()
    agent._nv = None if nv is None else np.asarray(nv, dtype=float).copy()
    agent._n_first, agent._n_scale = n_first, n_scale


def snapshot(agent: Any) -> dict[str, Any]:
    """The model part of ``agent``'s state, JSON-able; see :meth:`Agent.snapshot`."""
    state = capture(agent)
    out = {key: state.metadata[key] for key in SNAPSHOT_KEYS if key in state.metadata}
    out["theta"] = np.asarray(state.arrays.get("theta", []), dtype=np.float64).tolist()
    return out


def from_snapshot(
    cls: type,
    configuration: dict[str, Any],
    snapshot: dict[str, Any],
    X: np.ndarray,
    y: np.ndarray,
    noise_variance: np.ndarray | None,
    overrides: dict[str, Any],
) -> Any:
    """An agent from its configuration, a snapshot and the data; see :meth:`Agent.from_snapshot`."""
    metadata = {key: snapshot[key] for key in SNAPSHOT_KEYS if key in snapshot}
    metadata["configuration"] = configuration
    metadata["point_ids"] = [None] * len(y)
    metadata["pending"] = []
    if snapshot.get("n_first") is None and len(y):
        # The snapshot's model held no data yet (a run that failed during its first
        # design): rebuild it empty and tell it the data, as its next decision would.
        metadata["point_ids"] = []
        empty = {"X": np.empty((0, X.shape[1])), "y": np.empty(0), "theta": np.empty(0)}
        agent = restore(cls, AgentState(metadata=metadata, arrays=empty), overrides)
        agent.tell(X, y, noise_variance=noise_variance)
        return agent
    arrays = {"X": X, "y": y, "theta": np.asarray(snapshot.get("theta", []), dtype=np.float64)}
    if noise_variance is not None:
        arrays["noise_variance"] = noise_variance
    return restore(cls, AgentState(metadata=metadata, arrays=arrays), overrides)
