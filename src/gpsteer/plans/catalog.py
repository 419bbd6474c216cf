"""The run catalog: where every Bluesky run of gpsteer is stored and read back.

gpsteer stores runs with databroker 2 / tiled, like the rest of Bluesky. By
default the catalog is *embedded*: a SQLite file and a data folder under the
user's data directory, served to this process by an in-process tiled app (no
socket, no server to start). When a facility runs a tiled server, pass its URI
instead; nothing else changes.

Everything that can make writing fail — a directory that cannot be created or
written, a full disk — is checked when the catalog is opened, so a plan never
starts moving motors toward a catalog that will lose its data.

Layout of an embedded catalog directory::

    <directory>/catalog.db       SQLite: run metadata and the tree of nodes
    <directory>/storage.duckdb   DuckDB: event tables (scalar readings)
    <directory>/data/            array data written as files (large readings)
"""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import queue
import secrets
import shutil
import threading
import uuid
import warnings
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from gpsteer.errors import CatalogError, InputError

if TYPE_CHECKING:
    from bluesky import RunEngine
    from bluesky_tiled_plugins import TiledWriter

__all__ = [
    "BackgroundWriter",
    "Catalog",
    "RunSummary",
    "default_catalog_directory",
    "list_runs",
    "open_catalog",
    "run_documents",
]

#: Environment variable naming gpsteer's data directory (the catalog goes in ``catalog/``).
DATA_DIR_ENV = "GPSTEER_DATA_DIR"
#: Refuse to open an embedded catalog with less free space than this (bytes).
DEFAULT_MIN_FREE_BYTES = 64 * 1024**2
_RUNS_SPEC = ("CatalogOfBlueskyRuns", "3.0")
_STOP = object()
logger = logging.getLogger(__name__)
_JSON_SEQ = "application/json-seq"


def default_catalog_directory(environ: Mapping[str, str] | None = None) -> Path:
    """Return where the embedded catalog lives when no directory is given.

    ``$GPSTEER_DATA_DIR/catalog`` if that variable is set, else
    ``$XDG_DATA_HOME/gpsteer/catalog``, else ``~/.local/share/gpsteer/catalog``.
    ``environ`` defaults to ``os.environ``.
    """
    env = os.environ if environ is None else environ
    base = env.get(DATA_DIR_ENV)
    if base:
        return Path(base).expanduser() / "catalog"
    xdg = env.get("XDG_DATA_HOME")
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    root = Path(xdg).expanduser() if xdg else home / ".local" / "share"
    return root / "gpsteer" / "catalog"


def _check_writable(directory: Path, min_free_bytes: int) -> None:
    """Raise CatalogError unless ``directory`` can be created, written, and has room.

    Why a probe file and not ``os.access``: access() answers "yes" to root
    whatever the permissions, and knows nothing of read-only mounts.
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CatalogError(
            f"cannot create the catalog directory {str(directory)!r}: {exc.strerror or exc}. "
            f"Pass a writable directory to open_catalog(directory=...) or set "
            f"${DATA_DIR_ENV}."
        ) from exc
    probe = directory / f".gpsteer-write-probe-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        with open(probe, "wb") as fh:
            fh.write(b"gpsteer")
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise CatalogError(
            f"cannot write to the catalog directory {str(directory)!r}: "
            f"{exc.strerror or exc}. Pass a writable directory to "
            f"open_catalog(directory=...) or set ${DATA_DIR_ENV}."
        ) from exc
    finally:
        try:
            probe.unlink()
        except OSError:
            pass
    for name in ("catalog.db", "storage.duckdb"):
        existing = directory / name
        if existing.exists():
            try:
                with open(existing, "ab"):
                    pass
            except OSError as exc:
                raise CatalogError(
                    f"the catalog file {str(existing)!r} is not writable: "
                    f"{exc.strerror or exc}. Fix its permissions or open another directory."
                ) from exc
    free = shutil.disk_usage(directory).free
    if free < min_free_bytes:
        raise CatalogError(
            f"the disk holding the catalog directory {str(directory)!r} has only "
            f"{free / 1024**2:.1f} MiB free (at least {min_free_bytes / 1024**2:.1f} MiB "
            f"needed). Free some space or open a catalog on another disk."
        )


def _serialization_registry() -> Any:
    """The default tiled registry plus the json-seq exporter that ``run.documents()`` needs.

    A copy, so opening a catalog does not change tiled's process-wide registry.
    """
    from bluesky_tiled_plugins.exporters import json_seq_exporter
    from tiled.media_type_registration import default_serialization_registry

    registry = copy.deepcopy(default_serialization_registry)
    registry.register("BlueskyRun", _JSON_SEQ, json_seq_exporter)
    return registry


def _ensure_runs_container(root: Any, key: str) -> Any:
    """Return the child ``key`` of ``root`` with the CatalogOfBlueskyRuns spec, creating it."""
    from tiled.structures.core import Spec

    name, version = _RUNS_SPEC
    if key in root:
        runs = root[key]
        if not any(spec.name == name for spec in runs.specs):
            raise CatalogError(
                f"the tiled node {key!r} exists but is not a catalog of Bluesky runs "
                f"(its specs are {[s.name for s in runs.specs]}); open another node "
                f"with open_catalog(..., runs_key=...)"
            )
        return runs
    return root.create_container(key, specs=[Spec(name, version=version)])


class BackgroundWriter:
    """Pass documents to a callback in a worker thread, in order.

    Why: a ``TiledWriter`` called by the RunEngine writes on the RunEngine's
    loop, and one write takes tens to hundreds of milliseconds (each event with
    ``batch_size=1``; run start, descriptors and stop always). Queued to a
    thread, the loop only pays for a copy of the document.

    A failed write is logged at once and raised, once, as :class:`CatalogError`
    from the next document call (so the RunEngine aborts the run) or from
    :meth:`flush`/:meth:`close`. The ``start`` document is the exception to
    "the loop only pays for a copy": the call waits until it is stored, so a
    catalog that cannot store a run fails it before the plan moves anything.
    The rest of a failed run is not passed on (a partial run would only fail
    again); the next run start is.

    Parameters
    ----------
    callback : callable
        ``callback(name, doc)``, e.g. a ``TiledWriter``; only the worker calls it.
    """

    def __init__(self, callback: Any, *, thread_name: str = "gpsteer-catalog-writer") -> None:
        self.callback = callback
        self._queue: queue.Queue[Any] = queue.Queue()
        self._error: BaseException | None = None  # set by the worker, raised by callers
        self._error_lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._work, name=thread_name, daemon=True)
        self._thread.start()

    def __call__(self, name: str, doc: Mapping[str, Any]) -> None:
        self._raise_error()
        if self._closed:
            raise CatalogError("the catalog writer is closed; subscribe a new one")
        # The RunEngine owns the document; copy so later changes cannot race the worker.
        self._queue.put((name, copy.deepcopy(doc)))
        if name == "start":
            # Why wait for this one: a catalog that broke since it was opened (server
            # gone, disk full) then fails the run at open_run, before anything moves.
            self._queue.join()
            self._raise_error()

    def _work(self) -> None:
        run_failed = False  # after a failure, drop the rest of that run
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                name = item[0]
                if name == "start":
                    run_failed = False
                if run_failed:
                    continue
                try:
                    self.callback(*item)
                except Exception as exc:
                    logger.exception("storing a %r document in the catalog failed", name)
                    run_failed = True
                    with self._error_lock:
                        if self._error is None:
                            self._error = exc
            finally:
                self._queue.task_done()

    def _raise_error(self) -> None:
        with self._error_lock:
            error, self._error = self._error, None
        if error is not None:
            raise CatalogError(
                f"storing documents in the catalog failed: {error}. The run's later "
                "documents were not stored; check the catalog directory or server."
            ) from error

    def flush(self) -> None:
        """Wait until every document received so far is stored; raise a stored failure."""
        if self._thread.is_alive():
            self._queue.join()
        self._raise_error()

    def close(self, timeout: float | None = None) -> None:
        """Flush and stop the worker thread; wait at most ``timeout`` seconds (None: no
        limit) and say so if documents were left unstored."""
        if self._closed:
            return
        self._closed = True
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.warning(
                    "The catalog writer did not finish within %g s; about %d document(s) "
                    "were not stored.",
                    timeout,
                    self._queue.qsize(),
                )
        self._raise_error()


@dataclass
class Catalog:
    """An open run catalog: the runs container, and how to write runs into it.

    Index it like the runs container: ``catalog[-1]`` is the newest run,
    ``catalog[uid]`` a run by its start uid. Close it (or use it as a context
    manager) to unsubscribe its writers and release the in-process app.

    Attributes
    ----------
    runs : bluesky_tiled_plugins.CatalogOfBlueskyRuns
        The tiled client container of runs.
    directory : pathlib.Path or None
        The directory of an embedded catalog; None for a tiled server.
    uri : str or None
        The server URI; None for an embedded catalog.
    """

    runs: Any
    directory: Path | None = None
    uri: str | None = None
    _context: Any = field(default=None, repr=False)
    _subscriptions: list[tuple[Any, int, Any]] = field(default_factory=list, repr=False)
    _closed: bool = field(default=False, repr=False)
    _server: Any = field(default=None, repr=False)

    @property
    def served_at(self) -> str | None:
        """The URI other processes read this catalog at (``open_catalog(serve=True)``)."""
        return None if self._server is None else self._server.uri

    def writer(self, *, batch_size: int = 1, **kwargs: Any) -> TiledWriter:
        """Return a ``TiledWriter`` that stores the documents it is called with.

        Parameters
        ----------
        batch_size : int
            Events buffered before a write. 1 (the default) stores each event as
            it arrives, so a crash loses nothing and the run can be read while it
            runs; larger values write faster but keep events in memory until
            the run stops.
        **kwargs
            Passed to ``bluesky_tiled_plugins.TiledWriter``.
        """
        from bluesky_tiled_plugins import TiledWriter

        self._check_open()
        if batch_size < 1:
            raise InputError(f"batch_size must be at least 1, got {batch_size!r}")
        return TiledWriter(self.runs, batch_size=batch_size, **kwargs)

    def subscribe(
        self,
        RE: RunEngine,
        *,
        background: bool = True,
        **kwargs: Any,
    ) -> BackgroundWriter | TiledWriter:
        """Subscribe a new :meth:`writer` to ``RE`` and return the subscribed callback.

        Parameters
        ----------
        RE : bluesky.RunEngine
        background : bool
            Write in a worker thread (a :class:`BackgroundWriter` around the
            ``TiledWriter``, the default) so storage never blocks the RunEngine
            loop; False calls the ``TiledWriter`` on the loop itself.
        **kwargs
            Passed to :meth:`writer`.

        Notes
        -----
        Reading through this handle (``catalog[...]``, ``len``, :func:`list_runs`)
        first waits for background writes; ``catalog.runs`` does not. The
        subscription ends with :meth:`close`.
        """
        callback: BackgroundWriter | TiledWriter = self.writer(**kwargs)
        if background:
            callback = BackgroundWriter(callback)
        token = RE.subscribe(callback)
        self._subscriptions.append((RE, token, callback))
        return callback

    def unsubscribe(self, callback: BackgroundWriter | TiledWriter) -> None:
        """Undo one :meth:`subscribe`: unsubscribe ``callback`` and finish its writes."""
        for entry in self._subscriptions:
            if entry[2] is callback:
                self._subscriptions.remove(entry)
                entry[0].unsubscribe(entry[1])
                if isinstance(callback, BackgroundWriter):
                    callback.close()
                return
        raise InputError("this callback was not subscribed by this catalog's subscribe()")

    def flush(self) -> None:
        """Wait until background writers have stored every document they received."""
        for _, _, callback in self._subscriptions:
            if isinstance(callback, BackgroundWriter):
                callback.flush()

    def close(self, timeout: float | None = None) -> None:
        """Unsubscribe the writers added by :meth:`subscribe`, finish their writes (at
        most ``timeout`` seconds each; None: no limit), and release the in-process app
        (or the connection to the server)."""
        if self._closed:
            return
        self._closed = True
        errors: list[BaseException] = []
        for RE, token, callback in self._subscriptions:
            RE.unsubscribe(token)
            if isinstance(callback, BackgroundWriter):
                try:
                    callback.close(timeout)
                except CatalogError as exc:
                    errors.append(exc)
        self._subscriptions.clear()
        if self._context is not None:
            self._context.close()
        if self._server is not None:
            self._server.stop()
        if errors:
            raise errors[0]

    def _check_open(self) -> None:
        if self._closed:
            raise CatalogError("the catalog is closed; open it again with open_catalog()")

    def __getitem__(self, key: str | int) -> Any:
        self._check_open()
        self.flush()
        return self.runs[key]

    def __len__(self) -> int:
        self._check_open()
        self.flush()
        return len(self.runs)

    def __enter__(self) -> Catalog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _quiet_tiled() -> None:
    """tiled's server module logs "Tiled version ..." to stderr (its own handler, level
    INFO) each time an app starts: once per catalog opened. Keep its warnings only."""
    logging.getLogger("tiled.server.app").setLevel(logging.WARNING)


#: Seconds a catalog closing at interpreter exit waits for its writers.
EXIT_CLOSE_TIMEOUT_S = 60.0


def _close_before_thread_shutdown(catalog: Catalog) -> None:
    """Close ``catalog`` when the interpreter begins to exit, before its threads are joined.

    Why not ``atexit``: Python joins threads (and closes tiled's in-process app, whose
    portal thread serves every write) *before* it runs ``atexit`` hooks. A writer still
    storing a run's last documents then waits for a portal that is gone, and exit
    hangs. ``threading._register_atexit`` hooks run first, newest first (CPython 3.9+).
    """
    register = getattr(threading, "_register_atexit", None)
    if register is None:
        return
    ref = weakref.ref(catalog)

    def close() -> None:
        open_catalog_ = ref()
        if open_catalog_ is not None:
            try:
                open_catalog_.close(timeout=EXIT_CLOSE_TIMEOUT_S)
            except Exception as exc:  # exiting anyway: say what was lost
                logger.warning("Closing the catalog at exit failed: %s", exc)

    try:
        register(close)
    except RuntimeError:  # the interpreter is already shutting down
        pass


def open_catalog(
    directory: str | os.PathLike[str] | None = None,
    *,
    uri: str | None = None,
    api_key: str | None = None,
    runs_key: str = "runs",
    min_free_bytes: int = DEFAULT_MIN_FREE_BYTES,
    serve: bool = False,
) -> Catalog:
    """Open (creating if needed) the catalog that runs are stored in.

    Parameters
    ----------
    directory : path, optional
        Directory of an embedded catalog. Default: :func:`default_catalog_directory`.
        Created if missing. Give either this or ``uri``, not both.
    uri : str, optional
        URI of a tiled server (e.g. ``"http://127.0.0.1:8000"``), instead of an
        embedded catalog. If that node is itself a catalog of Bluesky runs it is
        used as is; otherwise its child ``runs_key`` is used (created if missing).
    api_key : str, optional
        API key for the tiled server (``uri`` only).
    runs_key : str
        Name of the container that holds the runs.
    min_free_bytes : int
        Refuse an embedded catalog on a disk with less free space than this.
    serve : bool
        Embedded catalog: also serve it over HTTP on 127.0.0.1 (a tiled server in a
        thread, :mod:`gpsteer.plans.catalog_server`) so that other processes can read
        it, also during a run; this process writes through the server too. Without
        ``serve``, a directory that another live session serves is opened through
        that session's server.

    Returns
    -------
    Catalog

    Raises
    ------
    CatalogError
        The directory cannot be created or written, the disk is (nearly) full,
        the tiled server cannot be reached, or ``runs_key`` names a node that is
        not a catalog of runs.
    ConfigurationError
        Both ``directory`` and ``uri`` given.
    """
    from gpsteer.errors import ConfigurationError

    if directory is not None and uri is not None:
        raise ConfigurationError(
            "pass either directory= (an embedded catalog) or uri= (a tiled server), not both"
        )
    if uri is not None:
        return _open_remote(uri, api_key=api_key, runs_key=runs_key)
    path = Path(directory).expanduser() if directory is not None else default_catalog_directory()
    path = path.absolute()
    _check_writable(path, min_free_bytes)
    from gpsteer.plans.catalog_server import find_server

    served = None if serve else find_server(path)
    if served is not None:  # another session writes here: read through its server
        catalog = _open_remote(served.uri, api_key=served.api_key, runs_key=runs_key)
        catalog.directory = path
        return catalog
    return _open_embedded(path, runs_key=runs_key, serve=serve)


def _open_embedded(directory: Path, *, runs_key: str, serve: bool = False) -> Catalog:
    from tiled.catalog import from_uri as catalog_from_uri
    from tiled.client import Context, from_context
    from tiled.server.app import build_app

    from gpsteer.plans.catalog_server import serve_directory

    _quiet_tiled()

    data_dir = directory / "data"
    database = directory / "catalog.db"
    try:
        data_dir.mkdir(exist_ok=True)
        uri = f"sqlite:///{database}"
        needs_init = not _init_database(uri)
        adapter = catalog_from_uri(
            uri,
            writable_storage=[str(data_dir), f"duckdb:///{directory / 'storage.duckdb'}"],
            init_if_not_exists=needs_init,
        )
        if serve:
            from tiled.config import Authentication

            key = secrets.token_hex(16)
            app = build_app(
                adapter,
                authentication=Authentication(single_user_api_key=key),
                serialization_registry=_serialization_registry(),
            )
        else:
            app = build_app(adapter, serialization_registry=_serialization_registry())
    except CatalogError:
        raise
    except Exception as exc:
        raise CatalogError(
            f"cannot open the embedded catalog in {str(directory)!r}: {exc}. "
            "If the files there are not a tiled catalog, open another directory."
        ) from exc
    if serve:
        server = serve_directory(directory, app, key)
        try:
            catalog = _open_remote(server.uri, api_key=key, runs_key=runs_key)
        except BaseException:
            server.stop()
            raise
        catalog.directory, catalog._server = directory, server
        return catalog
    try:
        with warnings.catch_warnings():
            # tiled's in-process client imports starlette's TestClient, which warns that
            # it should use httpx2: tiled's choice, not the user's, on every open.
            warnings.filterwarnings("ignore", message=".*starlette.testclient.*")
            context = Context.from_app(app)
    except CatalogError:
        raise
    except Exception as exc:
        raise CatalogError(
            f"cannot open the embedded catalog in {str(directory)!r}: {exc}. "
            "If the files there are not a tiled catalog, open another directory."
        ) from exc
    try:
        runs = _ensure_runs_container(from_context(context), runs_key)
    except BaseException:
        context.close()
        raise
    catalog = Catalog(runs=runs, directory=directory, _context=context)
    _close_before_thread_shutdown(catalog)
    return catalog


def _init_database(uri: str) -> bool:
    """Create the catalog tables in-process if needed; False if that is not possible.

    Why: ``tiled.catalog.from_uri(init_if_not_exists=True)`` runs
    ``python -m tiled catalog init`` in a subprocess, which re-imports tiled
    (about 5 s); the same steps in-process take well under a second. They run in
    a fresh thread because they call ``asyncio.run``, which fails in a thread
    that already runs a loop (IPython with autoawait, Jupyter). On any failure of
    this shortcut (a tiled release that moved these functions), return False and
    let tiled's own initialisation run.
    """
    try:
        from sqlalchemy.ext.asyncio import create_async_engine
        from tiled.alembic_utils import UninitializedDatabase, check_database, stamp_head
        from tiled.catalog.alembic_constants import ALEMBIC_DIR, ALEMBIC_INI_TEMPLATE_PATH
        from tiled.catalog.core import ALL_REVISIONS, REQUIRED_REVISION, initialize_database
        from tiled.utils import ensure_specified_sql_driver
    except ImportError:  # pragma: no cover - depends on the tiled release
        return False
    url = ensure_specified_sql_driver(uri)

    async def create_tables() -> bool:
        engine = create_async_engine(url)
        try:
            await check_database(engine, REQUIRED_REVISION, ALL_REVISIONS)
            return False
        except UninitializedDatabase:
            await initialize_database(engine)
            return True
        finally:
            await engine.dispose()

    outcome: list[BaseException | None] = []

    def work() -> None:
        try:
            if asyncio.run(create_tables()):
                stamp_head(ALEMBIC_INI_TEMPLATE_PATH, ALEMBIC_DIR, url)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=work, name="gpsteer-catalog-init")
    thread.start()
    thread.join()
    if outcome and outcome[0] is not None:
        logger.debug("in-process catalog init failed, falling back to tiled's", exc_info=outcome[0])
        return False
    return True


def _open_remote(uri: str, *, api_key: str | None, runs_key: str) -> Catalog:
    from tiled.client import from_uri as client_from_uri

    shown = uri.split("?", 1)[0]  # never echo an api_key query parameter
    try:
        node = client_from_uri(uri, api_key=api_key)
    except Exception as exc:
        raise CatalogError(
            f"cannot connect to the tiled server at {shown!r}: {str(exc).replace(uri, shown)}. "
            "Check the URI and the API key, or use an embedded catalog (directory=...)."
        ) from exc
    if any(spec.name == _RUNS_SPEC[0] for spec in node.specs):
        runs = node
    else:
        runs = _ensure_runs_container(node, runs_key)
    catalog = Catalog(runs=runs, uri=uri, _context=node.context)
    _close_before_thread_shutdown(catalog)
    return catalog


@dataclass(frozen=True)
class RunSummary:
    """One line of :func:`list_runs`.

    Attributes
    ----------
    uid : str
        The start document's uid.
    scan_id : int or None
    plan_name : str or None
    time : datetime.datetime
        Start time, timezone-aware (UTC).
    num_events : dict of str to int
        Events per stream, from the stop document (empty while a run is open).
    exit_status : str or None
        ``"success"``, ``"abort"``, ``"fail"``, or None while the run is open.
    """

    uid: str
    scan_id: int | None
    plan_name: str | None
    time: datetime
    num_events: Mapping[str, int]
    exit_status: str | None

    @property
    def total_events(self) -> int:
        """Events in all streams together."""
        return sum(self.num_events.values())

    def __str__(self) -> str:
        when = self.time.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        status = self.exit_status or "open"
        return (
            f"{self.uid[:8]}  {when}  scan {self.scan_id}  {self.plan_name}  "
            f"{self.total_events} events  {status}"
        )


def _summary(run: Any) -> RunSummary:
    start = run.metadata["start"]
    stop = run.metadata.get("stop") or {}
    return RunSummary(
        uid=start["uid"],
        scan_id=start.get("scan_id"),
        plan_name=start.get("plan_name"),
        time=datetime.fromtimestamp(start["time"], tz=timezone.utc),
        num_events=dict(stop.get("num_events") or {}),
        exit_status=stop.get("exit_status"),
    )


def list_runs(catalog: Catalog | Any, *, limit: int | None = None) -> list[RunSummary]:
    """Summarise stored runs, oldest first.

    Parameters
    ----------
    catalog : Catalog or tiled container of runs
    limit : int, optional
        Only the newest ``limit`` runs.
    """
    if isinstance(catalog, Catalog):
        catalog.flush()
        runs = catalog.runs
    else:
        runs = catalog
    if limit is not None and limit < 0:
        raise InputError(f"limit must be a non-negative integer, got {limit!r}")
    if limit is None:
        selected = list(runs.values())
    elif limit == 0:
        selected = []
    else:
        # tiled slices with a negative start only run backwards.
        selected = list(runs.values()[-1 : -limit - 1 : -1])[::-1]
    return [_summary(run) for run in selected]


def run_documents(run: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield the stored documents of ``run`` as ``(name, doc)`` pairs, in order.

    Feed them to any callback (``callback(name, doc)``) to replay the run, e.g.
    to rebuild an agent. Documents are semantically equal to those emitted, not
    identical: JSON round-trip (tuples become lists), event uids regenerated,
    descriptors carry ``dtype_numpy``.

    Raises
    ------
    CatalogError
        If the server cannot export documents (the json-seq exporter of
        bluesky-tiled-plugins is not registered there).
    """
    try:
        documents = run.documents()
        for name, doc in documents:
            yield name, dict(doc)
    except Exception as exc:
        if "406" in str(exc) or "Not Acceptable" in str(exc):
            raise CatalogError(
                "the tiled server cannot export the documents of this run (HTTP 406): "
                "register bluesky_tiled_plugins.exporters.json_seq_exporter for "
                "'BlueskyRun' / 'application/json-seq' in the server's configuration"
            ) from exc
        raise
