"""Session-wide test set-up: EPICS Channel Access on loopback, and a private data folder.

Loopback is applied here, before any test module imports ophyd or caproto's client, so
that unit tests using ``ophyd.sim`` and system tests with IOC subprocesses never search
or listen beyond 127.0.0.1 (see :mod:`gpsteer.sim_devices.loopback`).

``GPSTEER_DATA_DIR`` is set for the whole session, and never deleted, for two reasons:
tests must not write catalogs into the user's ``~/.local/share``; and caproto's search
thread copies ``os.environ`` key by key (``dict(os.environ)``) every few seconds, so a
variable *deleted* while it runs (``monkeypatch.setenv`` undone on a variable that was
not set before) kills that thread with a ``KeyError``, after which no unanswered PV
search is ever retried and later IOCs time out on connect. With the variable set
beforehand, a test's ``monkeypatch.setenv`` restores it instead of deleting it. Tests
must not ``delenv`` either: pass an explicit mapping to the function under test.
"""

import os

import pytest

from gpsteer.sim_devices.loopback import apply_loopback_env

apply_loopback_env()


@pytest.fixture(autouse=True, scope="session")
def _private_data_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Set before the first test, so before any caproto thread starts."""
    os.environ["GPSTEER_DATA_DIR"] = str(tmp_path_factory.mktemp("gpsteer-data"))
