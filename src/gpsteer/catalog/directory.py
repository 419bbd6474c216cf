"""Where an embedded catalog lives, whether it can be written there, and its tables.

Everything that can make writing fail (a directory that cannot be created or
written, a full disk) is checked when the catalog is opened, so a plan never starts
moving motors toward a catalog that will lose its data.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path

from gpsteer.errors import CatalogError

__all__ = [
    "DATA_DIR_ENV",
    "DEFAULT_MIN_FREE_BYTES",
    "check_writable",
    "default_catalog_directory",
    "init_database",
]

logger = logging.getLogger(__name__)

#: Environment variable naming gpsteer's data directory (the catalog goes in ``catalog/``).
DATA_DIR_ENV = "GPSTEER_DATA_DIR"
#: Refuse to open an embedded catalog with less free space than this (bytes).
DEFAULT_MIN_FREE_BYTES = 64 * 1024**2


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


def check_writable(directory: Path, min_free_bytes: int) -> None:
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


def init_database(uri: str) -> bool:
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
