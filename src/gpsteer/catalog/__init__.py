"""The run catalog: where every Bluesky run is stored, and how a stored run is read back.

* :mod:`~gpsteer.catalog.directory`: where an embedded catalog lives, checked writable;
* :mod:`~gpsteer.catalog.store`: :func:`open_catalog` (an embedded SQLite catalog,
  or a tiled server) and :class:`Catalog`, which subscribes a RunEngine;
* :mod:`~gpsteer.catalog.server`: an embedded catalog served over HTTP on loopback
  (``open_catalog(serve=True)``), so other processes read it during a run;
* :mod:`~gpsteer.catalog.writer`: :class:`BackgroundWriter`, storing documents
  off the RunEngine's loop;
* :mod:`~gpsteer.catalog.runs`: :func:`list_runs`, :func:`run_documents`;
* :mod:`~gpsteer.catalog.replay`: :func:`replay` (rebuild the agent of a stored
  run) and :func:`read_decisions` (its ``agent`` stream).

``import gpsteer.catalog`` stays light: tiled is imported when a catalog is opened,
torch when an agent is rebuilt.
"""

from gpsteer.catalog.replay import read_decisions, replay
from gpsteer.catalog.runs import RunSummary, list_runs, run_documents
from gpsteer.catalog.store import Catalog, default_catalog_directory, open_catalog
from gpsteer.catalog.writer import BackgroundWriter

__all__ = [
    "BackgroundWriter",
    "Catalog",
    "RunSummary",
    "default_catalog_directory",
    "list_runs",
    "open_catalog",
    "read_decisions",
    "replay",
    "run_documents",
]
