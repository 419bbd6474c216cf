"""Session-wide test set-up: EPICS Channel Access on loopback, and a private data folder.

Loopback is applied here, before any test module imports ophyd or caproto's client, so
that unit tests using ``ophyd.sim`` and system tests with IOC subprocesses never search
or listen beyond 127.0.0.1 (see :mod:`gpsteer.sim_devices.loopback`).

Every test is checked for leaks: one of gpsteer's threads, or a child process, that it
started and left running fails it (:func:`_no_leaked_threads_or_processes`).

``GPSTEER_DATA_DIR`` is set for the whole session, and never deleted, for two reasons:
tests must not write catalogs into the user's ``~/.local/share``; and caproto's search
thread copies ``os.environ`` key by key (``dict(os.environ)``) every few seconds, so a
variable *deleted* while it runs (``monkeypatch.setenv`` undone on a variable that was
not set before) kills that thread with a ``KeyError``, after which no unanswered PV
search is ever retried and later IOCs time out on connect. With the variable set
beforehand, a test's ``monkeypatch.setenv`` restores it instead of deleting it. Tests
must not ``delenv`` either: pass an explicit mapping to the function under test.
"""

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from gpsteer.sim_devices.loopback import apply_loopback_env

apply_loopback_env()


@pytest.fixture(autouse=True, scope="session")
def _private_data_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Set before the first test, so before any caproto thread starts."""
    os.environ["GPSTEER_DATA_DIR"] = str(tmp_path_factory.mktemp("gpsteer-data"))


#: Seconds a test's threads and child processes get to finish after it (a Dask worker,
#: an IOC stopped with SIGINT, a worker thread finishing its last job).
LEAK_GRACE_S = 10.0
#: Child processes that live for the session by design: multiprocessing's resource
#: tracker, started once by the first spawned Dask worker.
_SESSION_HELPERS = ("multiprocessing.resource_tracker",)


def _managed_pids() -> set[int]:
    """Child processes a live owner of a wider scope holds and will stop: the IOCs of
    live launcher handles (a module's station, restarted by a test) and the workers of
    live Dask nannies (a module's cluster, whose nanny replaces a killed worker)."""
    pids = set()
    launcher = sys.modules.get("gpsteer.sim_devices.launcher")
    if launcher is not None:
        pids.update(ioc.handle.pid for ioc in launcher.live_iocs())
    distributed = sys.modules.get("distributed")
    if distributed is not None:
        pids.update(n.pid for n in list(distributed.Nanny._instances) if n.pid)
    return pids


def _children() -> list:
    """This process's running child processes that no live owner holds."""
    import psutil

    managed = _managed_pids()
    out = []
    for child in psutil.Process().children(recursive=False):
        with contextlib.suppress(psutil.Error):  # it exited meanwhile
            if child.pid in managed or child.status() == psutil.STATUS_ZOMBIE:
                continue
            if not any(helper in " ".join(child.cmdline()) for helper in _SESSION_HELPERS):
                out.append(child)
    return out


def _ours(thread: threading.Thread) -> bool:
    """gpsteer's own threads (all are named ``gpsteer-...``): its plans, catalogs, plots
    and trainers must stop them. Third-party helpers (tiled's and Dask's pools, the CA
    client) live as long as their libraries decide."""
    return thread.is_alive() and thread.name.startswith("gpsteer")


def _describe(child: Any) -> str:
    with contextlib.suppress(Exception):
        return f"{child.pid} {' '.join(child.cmdline())[:120]}"
    return str(child.pid)


@pytest.fixture(autouse=True)
def _no_leaked_threads_or_processes(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test that leaves one of gpsteer's threads, or a child process, running.

    Fixtures of a wider scope are set up before this one, so what they start is not
    counted; nor is what a live owner of a wider scope holds (:func:`_managed_pids`).
    """
    threads_before = set(threading.enumerate())
    children_before = {child.pid for child in _children()}
    yield
    deadline = time.monotonic() + LEAK_GRACE_S
    while True:
        threads = [t for t in threading.enumerate() if t not in threads_before and _ours(t)]
        children = [c for c in _children() if c.pid not in children_before]
        if not (threads or children) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    described = [_describe(c) for c in children]
    for child in children:  # one leak must not fail the tests after it
        with contextlib.suppress(Exception):
            child.kill()
    if threads or children:
        pytest.fail(
            f"{request.node.nodeid} left running: threads {[t.name for t in threads]}, "
            f"child processes {described}",
            pytrace=False,
        )
