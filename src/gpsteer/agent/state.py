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

__all__ = [
    "SNAPSHOT_KEYS",
    "STATE_FORMAT",
    "STATE_VERSION",
    "AgentState",
    "constructor_arguments",
    "snapshot_state",
    "standardization_steps",
]

STATE_FORMAT = "gpsteer.agent_state"
#: Version 2 records every standardisation of the outputs (``standardized_at``);
#: version 1 (``n_first``, ``n_scale``) still loads.
STATE_VERSION = 2
_READABLE_VERSIONS = (1, 2)
#: The entries of the state metadata a snapshot keeps (:meth:`Agent.snapshot`): with the
#: data and the configuration they rebuild the posterior exactly. ``point_ids`` and
#: ``pending`` grow with the data and are not needed to rebuild a model, so they are
#: left out. (``n_first``, ``n_scale``: version 1. ``structure``, ``map_check``: the edges
#: the kernel was given and the model's comparison with interpolation, when present.)
SNAPSHOT_KEYS = (
    "format",
    "format_version",
    "hyperparameters",
    "model_version",
    "standardized_at",
    "n_first",
    "n_scale",
    "last_trained_n",
    "rng_state",
    "next_id",
    "structure",
    "map_check",
    "model",
    "interventions",
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
        if version not in _READABLE_VERSIONS:
            raise ConfigurationError(
                f"Agent state format version {version} is not supported by this gpsteer "
                f"(reads {list(_READABLE_VERSIONS)}); load it with the gpsteer version that "
                "wrote it."
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


_OBJECT_OPTIONS = ("kernel", "mean", "noise", "training")
_PLAIN_OPTIONS = (
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


def constructor_arguments(state: AgentState, overrides: dict[str, Any]) -> dict[str, Any]:
    """The ``Agent(...)`` arguments that ``state``'s configuration holds, with ``overrides``.

    Raises
    ------
    ConfigurationError
        The configuration recorded Python objects (a user kernel, a callable, constraints)
        that ``overrides`` does not supply again.
    """
    from gpsteer.acquisition import MotionCost, OptimizerSettings

    cfg = state.metadata["configuration"]
    kwargs: dict[str, Any] = {k: cfg[k] for k in _PLAIN_OPTIONS}
    kwargs["bounds"] = cfg["bounds"]
    kwargs["motion_cost"] = MotionCost(**cfg["motion_cost"]) if cfg["motion_cost"] else None
    kwargs["optimizer"] = OptimizerSettings(**cfg["optimizer"])
    kwargs["candidates"] = state.arrays.get("candidates")
    # states written before the large-N model existed were modelled exactly throughout
    kwargs["exact_limit"] = cfg.get("exact_limit")
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
    return kwargs


def standardization_steps(metadata: dict[str, Any], n: int) -> tuple[list[int], bool]:
    """The data sizes at which the model standardised its outputs, and whether the rest of
    the data is appended with re-standardisation (only for version-1 states).

    Version 1 recorded the first and the last agent-level standardisation (``n_first``,
    ``n_scale``) and was rebuilt by appending the rest as the model would; version 2
    records every step (:attr:`GaussianProcess.standardized_at`).
    """
    if "standardized_at" in metadata:
        steps = [int(k) for k in metadata["standardized_at"]]
        return (steps or [n]), False
    n_first, n_scale = int(metadata["n_first"]), int(metadata["n_scale"])
    return ([n_first] if n_scale == n_first else [n_first, n_scale]), True


def snapshot_state(
    configuration: dict[str, Any],
    snapshot: dict[str, Any],
    X: np.ndarray,
    y: np.ndarray,
    noise_variance: np.ndarray | None,
) -> tuple[AgentState, bool]:
    """The :class:`AgentState` of a snapshot plus its data; True when the data must be
    told to the rebuilt agent (a snapshot of a model that had no data yet)."""
    metadata = {key: snapshot[key] for key in SNAPSHOT_KEYS if key in snapshot}
    metadata.update(configuration=configuration, point_ids=[None] * len(y), pending=[])
    fitted = bool(snapshot.get("standardized_at") or snapshot.get("n_first"))
    if not fitted and len(y):
        metadata["point_ids"] = []
        empty = {"X": np.empty((0, X.shape[1])), "y": np.empty(0), "theta": np.empty(0)}
        return AgentState(metadata=metadata, arrays=empty), True
    arrays = {"X": X, "y": y, "theta": np.asarray(snapshot.get("theta", []), dtype=np.float64)}
    if noise_variance is not None:
        arrays["noise_variance"] = noise_variance
    return AgentState(metadata=metadata, arrays=arrays), False
