"""IOC subprocesses: start, readiness, clean stop, failure reports, the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gpsteer.errors import DeviceError
from gpsteer.sim_devices import launcher
from gpsteer.sim_devices.loopback import add_client_address, find_free_port, remove_client_address

pytestmark = pytest.mark.system


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_stop_leaves_no_process_port_or_log():
    ioc = launcher.start_ioc("ir", seed=5)
    handle = ioc.handle
    assert ioc.running
    assert f"127.0.0.1:{handle.port}" in os.environ["EPICS_CA_ADDR_LIST"].split()
    assert handle.client_env["EPICS_CA_ADDR_LIST"] == f"127.0.0.1:{handle.port}"
    assert handle.prefix.endswith(":ir:") and handle.sample().seed == 5
    assert ioc in launcher.live_iocs()

    assert ioc.stop() == 0, "SIGINT makes the IOC exit cleanly"
    assert _gone(handle.pid)
    assert ioc not in launcher.live_iocs()
    assert f"127.0.0.1:{handle.port}" not in os.environ["EPICS_CA_ADDR_LIST"].split()
    assert not Path(handle.log_path).exists()
    assert ioc.stop() == 0, "stop() is idempotent"


def test_context_manager_stops_the_ioc_on_error():
    with pytest.raises(RuntimeError, match="boom"):
        with launcher.running_ioc("arpes") as handle:
            pid = handle.pid
            raise RuntimeError("boom")
    assert _gone(pid)


def test_a_failing_ioc_is_reported_with_its_log():
    before = set(launcher.live_iocs())
    with pytest.raises(DeviceError, match="loopback only"):
        launcher.start_ioc("saxs", port=find_free_port(), extra_args=["--interfaces", "0.0.0.0"])
    assert set(launcher.live_iocs()) == before, "the failed IOC is not left running"


def test_unknown_kind_is_rejected():
    with pytest.raises(KeyError, match="saxs"):
        launcher.start_ioc("xps")


def test_console_command_serves_an_ioc(tmp_path):
    from caproto.sync.client import read

    script = Path(sys.executable).with_name("gpsteer")
    port = find_free_port()
    prefix = f"clitest{port}:"
    log = tmp_path / "ioc.log"
    env = {**os.environ, "EPICS_CA_SERVER_PORT": str(port)}
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [str(script), "sim", "ir", "--prefix", prefix, "--port", str(port), "--list-pvs"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    add_client_address(port)
    try:
        for _ in range(200):  # readiness, not timing: poll until the PV answers
            try:
                points = read(f"{prefix}spec:NumPoints_RBV", timeout=0.5, repeater=False)
                break
            except TimeoutError:
                assert proc.poll() is None, log.read_text()
                time.sleep(0.05)
        else:
            pytest.fail(f"the IOC never answered:\n{log.read_text()}")
        assert int(points.data[0]) == 256
    finally:
        remove_client_address(port)
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=10)
    assert code == 0
    assert f"{prefix}spec:Spectrum" in log.read_text(), "--list-pvs logs the PV names"
