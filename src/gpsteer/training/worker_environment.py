"""Do a cluster's workers run the gpsteer and torch this session runs?

Why: a training job is a copy of the model, pickled here and run there. A worker
without gpsteer fails every job (the agent then trains in process, slowly, after a
fallback warning); a worker with another gpsteer or torch may unpickle the model
differently. A facility cluster's environment is set up by someone else, so the agent
checks the workers it finds when it connects, and says what differs.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from gpsteer.errors import TrainingError, TrainingWarning

__all__ = ["PACKAGES", "check_worker_environment", "environment_problems"]

#: The packages a training job needs with the same versions on both sides.
PACKAGES = ("gpsteer", "torch")


def local_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for package in PACKAGES:
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = None
    return out


def environment_problems(
    workers: Mapping[str, Mapping[str, Any]], here: Mapping[str, str | None]
) -> tuple[list[str], list[str]]:
    """``(missing, different)``: one line per worker without gpsteer, and per worker
    whose versions differ from ``here``; ``workers`` as ``Client.get_versions()`` gives
    them (address -> {"packages": {name: version or None}})."""
    missing, different = [], []
    for address, info in sorted(workers.items()):
        packages = info.get("packages", {})
        if packages.get("gpsteer") is None:
            missing.append(address)
            continue
        differs = [
            f"{name} {packages.get(name)} (here {here[name]})"
            for name in PACKAGES
            if packages.get(name) != here[name]
        ]
        if differs:
            different.append(f"{address}: {', '.join(differs)}")
    return missing, different


def check_worker_environment(client: Any, address: str, timeout: float) -> None:
    """Raise :class:`TrainingError` if a worker cannot import gpsteer; warn
    (:class:`TrainingWarning`) if versions differ. Workers that join later are not
    checked; a check that does not answer within ``timeout`` seconds is skipped with a
    warning (jobs still run)."""
    result: dict[str, Any] = {}

    def ask() -> None:
        try:
            result["versions"] = client.get_versions(packages=list(PACKAGES))
        except Exception as exc:  # reported below, in the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=ask, name="gpsteer-dask-versions", daemon=True)
    thread.start()
    thread.join(timeout)
    if "versions" not in result:
        why = result.get("error", f"no answer within {timeout:g} s")
        warnings.warn(
            f"Could not check the environment of the Dask workers at {address} ({why}); "
            "they must run the same gpsteer and torch as this session.",
            TrainingWarning,
            stacklevel=4,
        )
        return
    here = local_versions()
    missing, different = environment_problems(result["versions"].get("workers", {}), here)
    if missing:
        raise TrainingError(
            f"The Dask workers {missing} at {address} cannot import gpsteer: install gpsteer "
            f"{here['gpsteer']} and torch {here['torch']} in the workers' environment (or "
            "start them from this session's environment), or train inline "
            "(training='inline')."
        )
    if different:
        warnings.warn(
            f"The Dask workers at {address} run other versions than this session: "
            f"{'; '.join(different)}. Training jobs may fail or differ; install the same "
            "versions there.",
            TrainingWarning,
            stacklevel=4,
        )
