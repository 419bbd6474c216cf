"""Opening the run catalog: an embedded SQLite catalog by default, or a tiled server.

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

import contextlib
import copy
import logging
import os
import secrets
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from gpsteer.catalog.directory import (
    DEFAULT_MIN_FREE_BYTES,
    check_writable,
    default_catalog_directory,
    init_database,
)
from gpsteer.catalog.writer import BackgroundWriter, close_before_thread_shutdown
from gpsteer.errors import CatalogError, InputError

if TYPE_CHECKING:
    from bluesky import RunEngine
    from bluesky_tiled_plugins import TiledWriter

__all__ = ["Catalog", "default_catalog_directory", "open_catalog"]

_RUNS_SPEC = ("CatalogOfBlueskyRuns", "3.0")
logger = logging.getLogger(__name__)
_JSON_SEQ = "application/json-seq"


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
        thread, :mod:`gpsteer.catalog.server`) so that other processes can read
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
    check_writable(path, min_free_bytes)
    from gpsteer.catalog.server import find_server

    served = None if serve else find_server(path)
    if served is not None:  # another session writes here: read through its server
        catalog = _open_remote(served.uri, api_key=served.api_key, runs_key=runs_key)
        catalog.directory = path
        return catalog
    return _open_embedded(path, runs_key=runs_key, serve=serve)


@contextlib.contextmanager
def _opening(directory: Path) -> Iterator[None]:
    """Any failure while opening the embedded catalog becomes a :class:`CatalogError`
    that names the directory."""
    try:
        yield
    except CatalogError:
        raise
    except Exception as exc:
        raise CatalogError(
            f"cannot open the embedded catalog in {str(directory)!r}: {exc}. "
            "If the files there are not a tiled catalog, open another directory."
        ) from exc


def _open_embedded(directory: Path, *, runs_key: str, serve: bool = False) -> Catalog:
    from tiled.catalog import from_uri as catalog_from_uri
    from tiled.client import Context, from_context
    from tiled.server.app import build_app

    from gpsteer.catalog.server import serve_directory

    _quiet_tiled()

    data_dir = directory / "data"
    database = directory / "catalog.db"
    with _opening(directory):
        data_dir.mkdir(exist_ok=True)
        uri = f"sqlite:///{database}"
        needs_init = not init_database(uri)
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
    if serve:
        server = serve_directory(directory, app, key)
        try:
            catalog = _open_remote(server.uri, api_key=key, runs_key=runs_key)
        except BaseException:
            server.stop()
            raise
        catalog.directory, catalog._server = directory, server
        return catalog
    with _opening(directory), warnings.catch_warnings():
        # tiled's in-process client imports starlette's TestClient, which warns that
        # it should use httpx2: tiled's choice, not the user's, on every open.
        warnings.filterwarnings("ignore", message=".*starlette.testclient.*")
        context = Context.from_app(app)
    try:
        runs = _ensure_runs_container(from_context(context), runs_key)
    except BaseException:
        context.close()
        raise
    catalog = Catalog(runs=runs, directory=directory, _context=context)
    close_before_thread_shutdown(catalog)
    return catalog


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
    close_before_thread_shutdown(catalog)
    return catalog
