"""Fixtures for system tests: simulated end-station IOCs in subprocesses.

The loopback-only EPICS environment is applied here, at import, before any test
module imports ophyd (see :mod:`gpsteer.sim_devices.loopback`).

Session-scoped fixtures, reusable by any test under ``tests/system/``:

``saxs_ioc``, ``arpes_ioc``, ``ir_ioc``
    A running IOC (:class:`~gpsteer.sim_devices.launcher.IocHandle`): ``.prefix``,
    ``.port``, ``.seed``, ``.sample()`` (the hidden sample, for ground truth) and
    ``.client_env``. Motors move at 25 mm/s; the sample seed is 0.
``saxs_station``, ``arpes_station``, ``ir_station``
    ``(stage, detector)``: connected ophyd devices for that IOC
    (:func:`~gpsteer.devices.end_stations.end_station`), named ``<kind>_stage`` and
    ``<kind>``, so event fields are e.g. ``saxs_q0`` and ``saxs_stage_x``.

Each IOC starts on first use and stops at the end of the session; a final check
fails the session teardown if any IOC process is still running.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gpsteer.sim_devices.loopback import apply_loopback_env

apply_loopback_env()

from gpsteer.sim_devices import launcher  # noqa: E402  (after the environment)

SIM_VELOCITY = 25.0  # mm/s: fast enough for short tests, slow enough to see motion
SIM_SEED = 0


def _ioc(kind: str) -> Iterator[launcher.IocHandle]:
    with launcher.running_ioc(kind, seed=SIM_SEED, velocity=SIM_VELOCITY) as handle:
        yield handle


@pytest.fixture(scope="session", autouse=True)
def _no_leaked_iocs() -> Iterator[None]:
    """Fail the session teardown if an IOC subprocess outlives its fixture."""
    yield
    leaked = launcher.live_iocs()
    for ioc in leaked:
        ioc.stop()
    assert not leaked, f"IOC processes were left running: {[i.handle for i in leaked]}"


@pytest.fixture(scope="session")
def saxs_ioc() -> Iterator[launcher.IocHandle]:
    """A running SAXS IOC (seed 0)."""
    yield from _ioc("saxs")


@pytest.fixture(scope="session")
def arpes_ioc() -> Iterator[launcher.IocHandle]:
    """A running ARPES IOC (seed 0)."""
    yield from _ioc("arpes")


@pytest.fixture(scope="session")
def ir_ioc() -> Iterator[launcher.IocHandle]:
    """A running IR IOC (seed 0)."""
    yield from _ioc("ir")


def _station(handle: launcher.IocHandle):
    from gpsteer.devices.end_stations import end_station

    return end_station(handle.kind, handle.prefix, timeout=15.0)


@pytest.fixture(scope="session")
def saxs_station(saxs_ioc):
    """(XYStage, SaxsDetector) connected to ``saxs_ioc``."""
    return _station(saxs_ioc)


@pytest.fixture(scope="session")
def arpes_station(arpes_ioc):
    """(XYStage, ArpesAnalyser) connected to ``arpes_ioc``."""
    return _station(arpes_ioc)


@pytest.fixture(scope="session")
def ir_station(ir_ioc):
    """(XYStage, IrSpectrometer) connected to ``ir_ioc``."""
    return _station(ir_ioc)
