"""Where an embedded catalog lives, and whether it can be written there.

Everything that can make writing fail (a directory that cannot be created or
written, a full disk) is checked when the catalog is opened, so a plan never starts
moving motors toward a catalog that will lose its data.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path

from gpsteer.errors import CatalogError

__all__ = ["DATA_DIR_ENV", "DEFAULT_MIN_FREE_BYTES", "check_writable", "default_catalog_directory"]

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
