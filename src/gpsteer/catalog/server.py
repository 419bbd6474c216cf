"""Serve an embedded catalog over HTTP on loopback, so other processes read it during a run.

An embedded catalog keeps its event tables in a DuckDB file that one process at a time
may open: a second process (``gpsteer replay``, a notebook, a viewer) met "Conflicting
lock is held". Beamlines solve this with a tiled server that every process talks to;
:func:`serve_directory` does the same for one session: a tiled app on the catalog's
files, served by uvicorn on ``127.0.0.1`` in a thread of this process, with a random
API key. The session writes through it too, so every reader sees what it sees.

``server.json`` in the catalog directory (mode 0600: it holds the key) says where it
is served; :func:`find_server` reads it, and :func:`gpsteer.catalog.open_catalog` of that
directory in another process then connects over HTTP instead of opening the files. The
file is removed when the session closes the catalog; one left by a session that died
is recognised (its process is gone, or nothing answers) and ignored.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from gpsteer.errors import CatalogError

__all__ = [
    "SERVER_FILE",
    "CatalogServer",
    "ServerInfo",
    "find_server",
    "one_request_at_a_time",
    "serve_directory",
]

logger = logging.getLogger(__name__)

#: Where a serving session says where it serves (in the catalog directory).
SERVER_FILE = "server.json"
#: Seconds a reader waits for a served catalog to answer before ignoring ``server.json``.
PROBE_TIMEOUT_S = 2.0
#: Seconds the server may take to answer after it started listening.
READY_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class ServerInfo:
    """Where a catalog directory is served: ``uri``, ``api_key``, the serving ``pid``."""

    uri: str
    api_key: str
    pid: int


class CatalogServer:
    """A tiled server on loopback for one catalog directory, in a thread; :meth:`stop` ends it."""

    def __init__(self, directory: Path, app: Any, api_key: str) -> None:
        import uvicorn
        from tiled.server.simple import ThreadedServer

        self.directory = directory
        self.api_key = api_key
        config = uvicorn.Config(
            one_request_at_a_time(app),
            host="127.0.0.1",
            port=0,
            loop="asyncio",
            log_config=None,
            log_level="warning",
        )
        self._server = ThreadedServer(config)  # no signal handlers: Ctrl-C stays the session's
        self._running: Any = self._server.run_in_thread()
        self.base_url = self._running.__enter__()
        self.uri = f"{self.base_url}/api/v1"
        try:
            _wait_ready(self.base_url)
        except BaseException:
            self._running.__exit__(None, None, None)
            raise
        self._file = directory / SERVER_FILE
        _write_private(self._file, {"uri": self.uri, "api_key": api_key, "pid": os.getpid()})

    def stop(self) -> None:
        """Stop serving (idempotent) and remove ``server.json``."""
        if self._running is None:
            return
        running, self._running = self._running, None
        with contextlib.suppress(OSError):
            if json.loads(self._file.read_text()).get("pid") == os.getpid():
                self._file.unlink()
        running.__exit__(None, None, None)


def one_request_at_a_time(app: Any) -> Any:
    """``app``, serving one HTTP request at a time (the whole request, response included).

    Why: tiled 0.2.20 keeps one DuckDB connection for the event tables and shares it
    between requests; a reader's request that ran while the session appended events
    broke the append's transaction ("No active transaction, cannot commit") and events
    were lost. A session and a few readers need no more than one request at a time.
    """
    import asyncio

    lock: asyncio.Lock | None = None

    async def serialized(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal lock
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        if lock is None:  # created in the server's own event loop
            lock = asyncio.Lock()
        async with lock:
            await app(scope, receive, send)

    return serialized


def _wait_ready(base_url: str) -> None:
    """Wait until the app answers (uvicorn listens before the app's start-up has run)."""
    import time

    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"the catalog server did not answer within {READY_TIMEOUT_S} s")
        time.sleep(0.05)


def _write_private(path: Path, content: dict[str, Any]) -> None:
    """Write ``content`` as JSON readable by this user only (it holds the API key)."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(content, fh)
    os.replace(tmp, path)


def serve_directory(directory: Path, app: Any, api_key: str) -> CatalogServer:
    """Serve ``app`` (a tiled app on ``directory``'s catalog, which accepts ``api_key``)
    on 127.0.0.1."""
    try:
        return CatalogServer(directory, app, api_key)
    except Exception as exc:
        raise CatalogError(
            f"cannot serve the catalog in {str(directory)!r} on 127.0.0.1: {exc}"
        ) from exc


def find_server(directory: Path) -> ServerInfo | None:
    """The server a live session runs for ``directory``, or None (no file, stale, silent)."""
    try:
        content = json.loads((directory / SERVER_FILE).read_text())
        info = ServerInfo(str(content["uri"]), str(content["api_key"]), int(content["pid"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if info.pid == os.getpid() or not _alive(info.pid):
        return None
    try:
        httpx.get(f"{info.uri.removesuffix('/api/v1')}/healthz", timeout=PROBE_TIMEOUT_S)
    except httpx.HTTPError:
        logger.info("the catalog server in %s does not answer; opening the files", directory)
        return None
    return info


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True
