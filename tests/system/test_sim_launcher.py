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
            [str(script), "sim", "ir", "--prefix", prefix, "--port", str(port)],
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


#: Run in a child process: start an IOC, say its pid, wait to be killed.
_PARENT = """
import sys, time
from gpsteer.sim_devices.launcher import start_ioc
print(start_ioc("ir").handle.pid, flush=True)
time.sleep(300)
"""


def test_an_ioc_has_its_own_session_and_exits_when_its_parent_is_killed():
    """Own session: a terminal's Ctrl-C (SIGINT to the foreground process group) misses
    it. A parent killed without running atexit (SIGKILL) still takes it down: the IOC
    reads end of file on the pipe the parent held (``--exit-with-stdin``)."""
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        pid = int(parent.stdout.readline())
        assert os.getsid(pid) == pid != os.getsid(parent.pid)
        assert os.getpgid(pid) != os.getpgid(parent.pid)
    finally:
        parent.kill()
        parent.wait(10)
        parent.stdout.close()
    for _ in range(100):  # readiness, not timing: poll until the IOC has gone
        if _gone(pid):
            break
        time.sleep(0.1)
    assert _gone(pid), "the IOC outlived the process that started it"
