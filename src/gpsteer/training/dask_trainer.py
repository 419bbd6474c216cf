"""Train on Dask: an existing client, a scheduler address, or an embedded ``LocalCluster``.

Each job becomes a small task graph: one task per start, then (for large data) one
polishing task per seed, then a merge task; Dask spreads the starts over the workers.
The merge task's done-callback (Dask's callback thread) fetches the small result and
settles a :class:`concurrent.futures.Future`, so the caller later finds it finished
without waiting on the network. How the embedded cluster is set up, and why, is in
:mod:`gpsteer.training.local_cluster`.

No wait here is unbounded: fetching a result, closing, and waiting for workers. A
cluster left without workers (:mod:`gpsteer.training.worker_watch`) gets them back if
it is a ``LocalCluster`` in this process; jobs that waited longer than
``no_workers_timeout`` for a worker fail with :class:`~gpsteer.training.jobs.NoWorkersError`,
which the manager answers by training inline.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sys
import threading
import time
import warnings
from concurrent.futures import CancelledError, Future
from functools import partial
from typing import Any, ClassVar

from gpsteer.errors import ConfigurationError, InputError, TrainingError, TrainingWarning
from gpsteer.training.jobs import (
    JobLostError,
    JobResult,
    JobSpec,
    NoWorkersError,
    coarse_step,
    merge_step,
    polish_step,
)
from gpsteer.training.local_cluster import (
    WORKER_NICENESS,
    default_workers,
    lost_workers,
    main_is_guarded,
    probe_scheduler,
    replace_lost_workers,
    start_local_cluster,
)
from gpsteer.training.trainers import Trainer
from gpsteer.training.worker_environment import check_worker_environment
from gpsteer.training.worker_watch import WorkerWatch, local_cluster_of, worker_count

__all__ = ["DaskTrainer", "main_is_guarded"]

log = logging.getLogger(__name__)

#: How long a start-up or connection may take before we give up (seconds).
DEFAULT_CONNECT_TIMEOUT = 5.0
START_TIMEOUT = 120.0
HEAL_RETRY_S = 60.0  # ask again for a lost worker if none came back after this long
#: Seconds a job may wait for a worker in a cluster that has none, before it is trained
#: inline: a restarted worker registers well within it (a few seconds).
NO_WORKERS_TIMEOUT = 20.0
#: Seconds to fetch a finished job's small result from its worker.
FETCH_TIMEOUT = 30.0
#: Seconds closing the client and the embedded cluster may take, each.
CLOSE_TIMEOUT = 10.0


class DaskTrainer(Trainer):
    """Run training jobs on a Dask cluster.

    Parameters
    ----------
    client
        An existing ``distributed.Client`` (used, never closed), or a scheduler address
        string (same as ``address``).
    address
        A scheduler address, e.g. ``"tcp://10.0.0.5:8786"`` (a facility cluster or a
        dask-jobqueue cluster's ``scheduler_address``). Connected at once; an unreachable
        address raises :class:`~gpsteer.errors.TrainingError` naming it.
    n_workers
        Embedded cluster only: worker count (default: cores - 1, at least 1, at most 4),
        each with one thread.
    processes
        Embedded cluster only: worker processes (True) or threads of this process
        (False). Default: processes, unless the main script lacks an
        ``if __name__ == "__main__":`` guard (see :func:`main_is_guarded`).
    connect_timeout
        Seconds to wait for a scheduler before giving up.
    no_workers_timeout
        Seconds a job may wait in a cluster with no workers; then it fails with
        :class:`~gpsteer.training.jobs.NoWorkersError` (the manager trains it inline),
        and so do later jobs until a worker is back.

    Notes
    -----
    Without ``client`` or ``address`` an embedded ``LocalCluster`` on 127.0.0.1 (no
    dashboard) is started on the first :meth:`submit`, in a background thread so that
    the submission returns at once, and closed by :meth:`close`. Its scheduler has
    ``allowed_failures=0``: a worker death fails the job at once, and the manager
    resubmits it on the newest data (Dask's own retry would rerun the old snapshot).
    Workers need ``gpsteer`` importable (true for the embedded cluster; install it in
    a facility cluster's worker environment).
    """

    backend: ClassVar[str] = "dask"

    def __init__(
        self,
        client: Any = None,
        *,
        address: str | None = None,
        n_workers: int | None = None,
        processes: bool | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        no_workers_timeout: float = NO_WORKERS_TIMEOUT,
    ) -> None:
        if isinstance(client, str):
            client, address = None, client if address is None else address
        if client is not None and address is not None:
            raise ConfigurationError("Give either a Dask client or a scheduler address, not both.")
        if n_workers is not None and n_workers < 1:
            raise InputError(f"n_workers must be >= 1; got {n_workers}.")
        if connect_timeout <= 0:
            raise InputError(f"connect_timeout must be > 0 seconds; got {connect_timeout}.")
        if not no_workers_timeout > 0:
            raise InputError(f"no_workers_timeout must be > 0 seconds; got {no_workers_timeout}.")
        self._lock = threading.RLock()
        self._closed = False
        self._cluster: Any = None
        self._client: Any = None
        self._owns_client = False
        self._starter: threading.Thread | None = None
        self._start_error: BaseException | None = None
        self._started = threading.Event()
        self._pending: list[tuple[JobSpec, Future[JobResult]]] = []
        self._futures: dict[Future[JobResult], list[Any]] = {}
        self._cancelled: set[int] = set()
        self._n_workers = n_workers or default_workers()
        self._processes = processes
        self._timeout = float(connect_timeout)
        self._heal_at: float | None = None
        self._n_replaced = 0
        self._watch = WorkerWatch(no_workers_timeout)
        if client is not None:
            if not callable(getattr(client, "submit", None)):
                raise InputError(f"client must be a distributed.Client; got {type(client)}.")
            self._client = client
            self._started.set()
        elif address is not None:
            self._connect(address)
            self._started.set()

    # ------------------------------------------------------------------ start-up
    def _connect(self, address: str) -> None:
        from distributed import Client
        from distributed.comm import parse_address

        try:
            parse_address(address, strict=True)
        except ValueError as exc:
            raise InputError(
                f"Not a Dask scheduler address: {address!r}; expected e.g. 'tcp://host:8786'."
            ) from exc
        probe_scheduler(address, self._timeout)
        try:
            self._client = Client(address, timeout=self._timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise TrainingError(
                f"Cannot connect to the Dask scheduler at {address!r}: {exc}. Check the "
                "address, or train inline (training='inline')."
            ) from exc
        self._owns_client = True
        try:
            check_worker_environment(self._client, address, self._timeout)
        except TrainingError:
            self._client.close(timeout=CLOSE_TIMEOUT)
            self._client = None
            raise

    def _start_embedded(self) -> None:
        self._cluster, self._client = start_local_cluster(self._n_workers, bool(self._processes))
        self._owns_client = True

    def _decide_processes(self) -> None:
        # In the caller's thread, so that the warning reaches the caller.
        if self._processes is not None:
            return
        self._processes = main_is_guarded()
        if not self._processes:
            main = getattr(sys.modules.get("__main__"), "__file__", "?")
            warnings.warn(
                f"The main script {main} has no `if __name__ == '__main__':` guard, so Dask "
                "worker processes would run it again; training uses thread workers in this "
                "process instead. Add the guard, or pass processes=False to DaskTrainer to "
                "silence this.",
                TrainingWarning,
                stacklevel=5,
            )

    def _starter_main(self) -> None:
        try:
            self._start_embedded()
        except BaseException as exc:  # reported through every waiting job's future
            error = TrainingError(
                f"The embedded Dask cluster failed to start ({type(exc).__name__}: {exc})."
            )
            error.__cause__ = exc
            self._start_error = error
        with self._lock:  # under the lock: no submit can slip in between
            pending, self._pending = self._pending, []
            closed = self._closed
            self._started.set()
        for spec, future in pending:
            if closed:
                _settle(future, error=CancelledError())
            elif self._start_error is not None:
                _settle(future, error=self._start_error)
            else:
                self._submit_graph(spec, future)

    def start(self, wait: bool = True) -> None:
        """Start the embedded cluster now (otherwise the first :meth:`submit` does).

        ``wait=False`` starts it in the background and returns at once.
        """
        with self._lock:
            if self._closed:
                raise TrainingError("This DaskTrainer is closed; create a new one.")
            if self._starter is None and not self._started.is_set():
                self._decide_processes()
                self._starter = threading.Thread(
                    target=self._starter_main, name="gpsteer-dask-start", daemon=True
                )
                self._starter.start()
        if wait:
            self._started.wait(START_TIMEOUT)
            if self._start_error is not None:
                raise self._start_error

    # ------------------------------------------------------------------ jobs
    def submit(self, spec: JobSpec) -> Future[JobResult]:
        future: Future[JobResult] = Future()
        future.set_running_or_notify_cancel()
        with self._lock:
            if self._closed:
                raise TrainingError("This DaskTrainer is closed; create a new one.")
            if not self._started.is_set():
                self._pending.append((spec, future))
                self.start(wait=False)
                return future
        if self._start_error is not None:
            _settle(future, error=self._start_error)
        else:
            self._submit_graph(spec, future)
        return future

    def _submit_graph(self, spec: JobSpec, future: Future[JobResult]) -> None:
        client = self._client
        if self._cluster is not None:  # our own workers: training yields to the caller
            spec = dataclasses.replace(spec, niceness=WORKER_NICENESS)
        # Why check first: tasks submitted while the client reconnects to a lost
        # scheduler are never cancelled when it gives up (distributed 2026.8), so the
        # job would hang for good. A closed client will never run a job again.
        status = getattr(client, "status", "running")
        if status in ("closing", "closed"):
            _settle(
                future,
                error=TrainingError(
                    f"The Dask scheduler at {self.address or '?'} went away and the client "
                    "closed; restart it and pass a new client or address."
                ),
            )
            return
        if status != "running":
            _settle(future, error=JobLostError(f"The Dask client is {status}; job not sent."))
            return
        if self._watch.expired() and worker_count(client) == 0:
            _settle(future, error=self._no_workers_error())
            return
        try:
            coarse = [
                client.submit(coarse_step, spec, [i], pure=False) for i in range(spec.n_starts)
            ]
            stages = list(coarse)
            if spec.subset is not None:
                stages += [
                    client.submit(polish_step, spec, i, *coarse, pure=False)
                    for i in range(spec.n_polish + 1)
                ]
            final = client.submit(merge_step, spec, *stages, pure=False)
        except Exception as exc:  # e.g. the client lost its scheduler
            _settle(future, error=JobLostError(f"Could not submit the training job: {exc}"))
            return
        with self._lock:
            self._futures[future] = [*stages, final]
        final.add_done_callback(partial(self._on_final, future))

    def _on_final(self, future: Future[JobResult], final: Any) -> None:
        # Runs in Dask's callback thread: fetch the small result, settle our future.
        with self._lock:
            self._futures.pop(future, None)
            cancelled = id(future) in self._cancelled or self._closed
        if future.done():
            return
        try:
            if getattr(final, "status", None) == "lost":  # result() would wait for ever
                raise JobLostError("The training job's result was lost with its worker.")
            value = final.result(timeout=FETCH_TIMEOUT)
        except BaseException as exc:
            _settle(future, error=self._classify(exc, cancelled))
            return
        finally:
            # Release now: the error's traceback holds this frame (and so ``final``) in
            # a reference cycle, which would keep the task on the scheduler until the
            # garbage collector runs.
            final.release()
        _settle(future, value=value)

    @staticmethod
    def _classify(exc: BaseException, cancelled: bool) -> BaseException:
        from distributed import KilledWorker
        from distributed.comm import CommClosedError

        if cancelled:
            return CancelledError()
        lost = (KilledWorker, CommClosedError, OSError, TimeoutError, asyncio.CancelledError)
        if isinstance(exc, lost) or isinstance(exc, CancelledError):
            error = JobLostError(
                f"The training job was lost ({type(exc).__name__}): a worker died while "
                "running it, or the connection to the scheduler broke."
            )
            error.__cause__ = exc
            return error
        return exc

    def check(self) -> None:
        """Keep jobs able to run: give a ``LocalCluster`` its dropped workers back, and fail
        jobs that waited longer than ``no_workers_timeout`` in a cluster with no workers.

        Called by the manager on every poll while a job is out; sends nothing over the
        network (:mod:`gpsteer.training.worker_watch`).
        """
        client = self._client
        if client is None or self._closed:
            return
        self._heal(self._cluster or local_cluster_of(client))
        with self._lock:
            waiting = list(self._futures)
        self._watch.update(worker_count(client), jobs_waiting=bool(waiting))
        if waiting and self._watch.expired():
            error = self._no_workers_error()
            log.warning("%s", error)
            for future in waiting:
                self._drop(future, error)

    def _heal(self, cluster: Any) -> None:
        """Restore workers Dask dropped for good (:func:`replace_lost_workers`); asked again
        only if nothing came back within a minute."""
        if cluster is None:
            return
        now = time.monotonic()
        if self._heal_at is not None and now - self._heal_at < HEAL_RETRY_S:
            return
        try:
            if not lost_workers(cluster):
                return
            self._n_replaced += 1
            n = replace_lost_workers(cluster, f"replacement-{self._n_replaced}")
        except Exception as exc:  # a closing cluster: nothing to restore
            log.debug("check failed: %s", exc)
            return
        self._heal_at = now
        log.warning("Started %d Dask worker(s) to replace lost ones.", n)

    def _no_workers_error(self) -> NoWorkersError:
        return NoWorkersError(
            f"The Dask cluster at {self.address or '?'} has had no workers for "
            f"{self._watch.seconds():.0f} s (no_workers_timeout={self._watch.timeout:g} s): "
            "its workers died and none were restarted. Restart them (or the cluster), or "
            "train inline (training='inline')."
        )

    def _drop(self, future: Future[JobResult], error: BaseException) -> None:
        """Give up on a job: cancel its tasks, settle its future with ``error``."""
        with self._lock:
            futures = self._futures.pop(future, [])
        if futures and self._client is not None:
            try:
                self._client.cancel(futures, force=True)
            except Exception as exc:  # the cluster may already be gone; nothing to stop
                log.debug("cancel failed: %s", exc)
        _settle(future, error=error)

    def cancel(self, future: Future[JobResult]) -> None:
        with self._lock:
            self._cancelled.add(id(future))
            self._pending = [(s, f) for s, f in self._pending if f is not future]
        self._drop(future, CancelledError())

    def close(self) -> None:
        """Cancel every job; close the connection and the embedded cluster we started."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            starter = self._starter
            jobs = list(self._futures)
            pending = [f for _, f in self._pending]
        if starter is not None:
            starter.join(START_TIMEOUT)
        for future in jobs:
            self.cancel(future)
        for future in pending:
            _settle(future, error=CancelledError())
        if self._owns_client and self._client is not None:
            try:
                self._client.close(timeout=CLOSE_TIMEOUT)
            except Exception as exc:  # closing anyway; a dead scheduler cannot answer
                log.warning("Closing the Dask client failed: %s", exc)
        if self._cluster is not None:
            try:
                self._cluster.close(timeout=CLOSE_TIMEOUT)
            except Exception as exc:
                log.warning("Closing the embedded Dask cluster failed: %s", exc)
        self._client = self._cluster = None

    # ------------------------------------------------------------------ introspection
    @property
    def client(self) -> Any:
        """The ``distributed.Client`` in use, or None before the embedded cluster started."""
        return self._client

    @property
    def address(self) -> str | None:
        client = self._client
        if client is None:
            return None
        try:
            return str(client.scheduler.address)
        except AttributeError:
            return None

    @property
    def processes(self) -> bool | None:
        """Embedded cluster: whether workers are processes (None until decided)."""
        return self._processes

    def __repr__(self) -> str:
        where = self.address or ("embedded, not started" if self._cluster is None else "?")
        return f"DaskTrainer({where})"


def _settle(
    future: Future[JobResult], *, value: JobResult | None = None, error: BaseException | None = None
) -> None:
    """Set ``future``'s outcome once; later attempts (a cancel racing a result) are ignored."""
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)  # type: ignore[arg-type]
    except Exception:  # InvalidStateError: already settled
        pass
