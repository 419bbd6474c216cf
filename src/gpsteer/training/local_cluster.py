"""The embedded Dask cluster: loopback only, safe for scripts, tuned for training.

Facts this module is built on (distributed 2026.8, measured on a busy 2-core machine):

* ``LocalCluster(processes=False, host="127.0.0.1")`` fails ("not enough values to
  unpack"): without a port it picks the ``inproc://`` transport and then cannot parse
  a host for it. ``host="127.0.0.1", protocol="tcp://"`` works for thread and process
  workers alike, so it is always passed.
* Worker processes are started with ``spawn``, which re-runs the main script in every
  worker unless its work sits under ``if __name__ == "__main__":``; an unguarded
  script would run a whole experiment once more per worker. :func:`main_is_guarded`
  checks for the guard (the trainer then falls back to thread workers).
* The scheduler always serves ``/health`` and ``/metrics`` over HTTP, on port 8787
  unless told otherwise; a second cluster then warns. Any free loopback port is used.
* Dask's nannies give workers ``MALLOC_TRIM_THRESHOLD_=65536``, which also freezes
  glibc's mmap threshold (:data:`WORKER_ENV`), and a statistical profiler.
* A crashed worker's nanny is closed for good if no replacement registered within
  ``distributed.deploy.lost-worker-timeout`` (:func:`replace_lost_workers`).
* A terminal's Ctrl-C is SIGINT to its whole foreground process group, worker
  processes included: a worker takes it as a request to close, tells its nanny not to
  restart it, and the cluster is left with no workers. Worker processes inherit the
  signal mask of the thread that forks them, which inherits it from the thread that
  started it; the cluster is therefore started with Ctrl-C blocked
  (:func:`terminal_signals_blocked`), and its workers never see it.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import functools
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gpsteer.errors import TrainingError

__all__ = [
    "WORKER_CONFIG",
    "WORKER_ENV",
    "WORKER_NICENESS",
    "default_workers",
    "lost_workers",
    "main_is_guarded",
    "probe_scheduler",
    "replace_lost_workers",
    "start_local_cluster",
    "terminal_signals_blocked",
    "training_nanny",
]

#: Environment of embedded worker processes. Dask's nannies set
#: MALLOC_TRIM_THRESHOLD_=65536, which also freezes glibc's mmap threshold: every
#: freed tensor of more than 128 kB goes back to the kernel and the next one is
#: page-faulted in again. Measured on 2 cores (N = 300, 4 starts): 4.2 s of system time
#: per job and 4x the inline wall time; with these values 0.1 s and the same as inline.
#: Explicit values (not just no setting) because a nanny's setting also lands in this
#: process's environment, which later workers inherit.
WORKER_ENV = {"MALLOC_TRIM_THRESHOLD_": "268435456", "MALLOC_MMAP_THRESHOLD_": "33554432"}
#: Worker configuration: no statistical profiler (it samples every thread's stack 100
#: times a second, interrupting the training thread, for a profile nobody reads).
WORKER_CONFIG = {"distributed.worker.profile.enabled": False}
#: Nice value of the embedded workers' training threads: on a busy machine the
#: caller (RunEngine, ask) gets the CPU first; training takes what is left.
WORKER_NICENESS = 10


def main_is_guarded() -> bool:
    """Whether spawning worker processes is safe for the main script of this process.

    True for interactive sessions (IPython, Jupyter, ``python -c``), for a main module
    whose top level has an ``if __name__ == "__main__":`` block, and when the source
    cannot be read (then we cannot tell, and follow Dask's default).
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if not path:
        return True
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return True
    return any(isinstance(node, ast.If) and _is_main_test(node.test) for node in tree.body)


def _is_main_test(test: ast.expr) -> bool:
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return False
    if not isinstance(test.ops[0], ast.Eq):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s.id for s in sides if isinstance(s, ast.Name)]
    values = [s.value for s in sides if isinstance(s, ast.Constant)]
    return names == ["__name__"] and values == ["__main__"]


def probe_scheduler(address: str, timeout: float) -> None:
    """Open and close one connection to ``address``; raise :class:`TrainingError` if we can't.

    Why not just ``Client(address)``: a Client that fails to connect leaves its IO-loop
    thread running; a probe on a private event loop leaves nothing behind. The probe
    runs in its own short-lived thread so that it also works under a running loop
    (Jupyter).
    """
    from distributed.comm import connect

    errors: list[BaseException] = []

    async def go() -> None:
        comm = await connect(address, timeout=timeout)
        await comm.close()

    def target() -> None:
        try:
            asyncio.run(go())
        except BaseException as exc:  # reported below, in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=target, name="gpsteer-dask-probe", daemon=True)
    thread.start()
    thread.join(timeout + 5.0)
    if thread.is_alive() or errors:
        why = f"{type(errors[0]).__name__}: {errors[0]}" if errors else "no answer"
        raise TrainingError(
            f"Cannot reach the Dask scheduler at {address!r} within {timeout:g} s ({why}). "
            "Check that the scheduler runs and the address is right, or train inline "
            "(training='inline')."
        )


@functools.cache
def training_nanny() -> type:
    """A ``distributed.Nanny`` whose workers get :data:`WORKER_ENV` and :data:`WORKER_CONFIG`.

    A subclass rather than a ``dask.config.set`` around the cluster's start: workers
    started later (restarts, :func:`replace_lost_workers`) get the same settings.
    """
    import dask
    from distributed import Nanny

    class TrainingNanny(Nanny):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.pre_spawn_env.update(WORKER_ENV)  # set before the worker process starts
            self.env.update(WORKER_ENV)
            with dask.config.set(WORKER_CONFIG):
                self.config = dask.config.merge(self.config, dask.config.config)

    return TrainingNanny


#: What a terminal sends its foreground process group: Ctrl-C and Ctrl-\\.
TERMINAL_SIGNALS = frozenset({signal.SIGINT, signal.SIGQUIT})


@contextlib.contextmanager
def terminal_signals_blocked() -> Iterator[None]:
    """Block :data:`TERMINAL_SIGNALS` in this thread for the block, then restore the mask.

    Threads started meanwhile keep the blocked mask, and so do processes they start
    (a signal mask survives fork and exec). Python handles signals in the main thread
    only, so blocking them in helper threads changes nothing for this process; a
    signal that arrives while the main thread blocks it is delivered on restore.
    """
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, TERMINAL_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def default_workers() -> int:
    """One worker per core, leaving a core to the caller (who must keep answering ask())."""
    return max(1, min(4, (os.cpu_count() or 1) - 1))


def start_local_cluster(n_workers: int, processes: bool) -> tuple[Any, Any]:
    """A ``LocalCluster`` on 127.0.0.1 for training, and a client of it (not the default).

    One thread per worker, no dashboard, a scheduler with ``allowed_failures=0`` (a
    worker death fails a job at once, so the manager can resubmit it on the newest
    data), the worker settings of this module, and worker processes that a terminal's
    Ctrl-C does not reach.
    """
    import dask
    from distributed import Client, LocalCluster

    extra: dict[str, Any] = {"worker_class": training_nanny()} if processes else {}
    if processes:
        # multiprocessing starts its resource tracker on the first spawn and then
        # *unblocks* SIGINT in the spawning thread (CPython bpo-33613): start it first.
        from multiprocessing import resource_tracker

        resource_tracker.ensure_running()
    # Blocked while the cluster starts: its event-loop thread, and every worker process
    # it will ever start (restarts too), inherit the mask (see the module docstring).
    with terminal_signals_blocked(), dask.config.set(WORKER_CONFIG):
        cluster = LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=processes,
            host="127.0.0.1",
            protocol="tcp://",
            dashboard_address=None,
            # The scheduler always serves /health and /metrics over HTTP, on port 8787
            # unless told otherwise (a second cluster then warns): any free loopback port.
            scheduler_kwargs={"allowed_failures": 0, "dashboard_address": "127.0.0.1:0"},
            **extra,
        )
    try:
        client = Client(cluster, set_as_default=False)
    except BaseException:
        cluster.close()
        raise
    return cluster, client


def lost_workers(cluster: Any) -> list[str]:
    """Names of the workers a ``LocalCluster`` should have but has lost for good.

    Dropped (no replacement registered within ``distributed.deploy.lost-worker-timeout``)
    or closed (a worker that closed itself, e.g. on Ctrl-C: its nanny then stays closed).
    """
    dead = ("closing", "closed", "failed", "closing_gracefully")
    lost = []
    for name in cluster.worker_spec:
        worker = cluster.workers.get(name)
        status = getattr(getattr(worker, "status", None), "name", "")
        if worker is None or status in dead:
            lost.append(name)
    return lost


def replace_lost_workers(cluster: Any, tag: str) -> int:
    """Start workers for those a ``LocalCluster`` lost for good (:func:`lost_workers`).

    A ``LocalCluster`` closes a crashed worker's nanny when no replacement registered
    within ``distributed.deploy.lost-worker-timeout`` (15 s), e.g. after two crashes in
    a row on a slow machine, and a nanny whose worker closed itself does not restart
    it; a one-worker cluster would then never run a job again. The replacements get new
    names (``tag`` appended): the dying worker may still hold its old one. No network
    traffic. Returns how many were started.
    """
    missing = lost_workers(cluster)
    for name in missing:
        del cluster.worker_spec[name]
        cluster.worker_spec[f"{name}-{tag}"] = cluster.new_spec
    if missing:
        cluster.scale(len(cluster.worker_spec))
    return len(missing)
