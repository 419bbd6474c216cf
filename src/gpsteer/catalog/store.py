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

import asyncio
import copy
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from gpsteer.catalog.directory import (
    DEFAULT_MIN_FREE_BYTES,
    check_writable,
    default_catalog_directory,
)
from gpsteer.catalog.writer import BackgroundWriter
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

    def close(self) -> None:
        """Unsubscribe the writers added by :meth:`subscribe`, finish their writes,
        and release the in-process app (or the connection to the server)."""
        if self._closed:
            return
        self._closed = True
        errors: list[BaseException] = []
        for RE, token, callback in self._subscriptions:
            RE.unsubscribe(token)
            if isinstance(callback, BackgroundWriter):
                try:
                    callback.close()
                except CatalogError as exc:
                    errors.append(exc)
        self._subscriptions.clear()
        if self._context is not None:
            self._context.close()
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


def open_catalog(
    directory: str | os.PathLike[str] | None = None,
    *,
    uri: str | None = None,
    api_key: str | None = None,
    runs_key: str = "runs",
    min_free_bytes: int = DEFAULT_MIN_FREE_BYTES,
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
    return _open_embedded(path, runs_key=runs_key)


def _open_embedded(directory: Path, *, runs_key: str) -> Catalog:
    from tiled.catalog import from_uri as catalog_from_uri
    from tiled.client import Context, from_context
    from tiled.server.app import build_app

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
        app = build_app(adapter, serialization_registry=_serialization_registry())
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
    return Catalog(runs=runs, directory=directory, _context=context)


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
    return Catalog(runs=runs, uri=uri, _context=node.context)
