"""``python -m gpsteer.demo``: the autonomous beamline session, end to end, as ``make demo``
runs it (a subprocess), with a small budget.

Checked: the exit status, the summary's numbers, the report figure, the run in the
catalog, and that the IOC the demo started is gone when it returns.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from gpsteer.catalog import open_catalog

pytestmark = [pytest.mark.system, pytest.mark.slow]

BUDGET = 12


def _alive(pid: int, marker: str) -> bool:
    """Whether process ``pid`` still runs with ``marker`` in its command line."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return marker in cmdline and state != "Z"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("demo") / "out"
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "gpsteer.demo", "--out", str(out), "--budget", str(BUDGET)],
        capture_output=True,
        text=True,
        timeout=280,
        env=env,
    )
    return {"out": out, "proc": proc}


def test_the_demo_succeeds_and_prints_its_summary(demo: dict) -> None:
    proc = demo["proc"]
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    text = proc.stdout
    assert "gpsteer demo: autonomous SAXS map on a simulated beamline" in text
    assert re.search(rf"points measured\s+{BUDGET} in \d+ s \(stopped on max_points\)", text)
    assert "0.5% of a 50 x 50 raster (2500 points)" in text  # 12 / 2500
    nrmse = float(re.search(r"map error\s+NRMSE ([\d.]+)%", text).group(1))
    raster = float(re.search(r"a 3 x 3 raster \(9 points\).*NRMSE ([\d.]+)%", text).group(1))
    assert 0 < nrmse < 100 and 0 < raster < 100
    difference = float(re.search(r"max difference ([-+.\de]+)\)", text).group(1))
    assert difference <= 1e-8  # the catalog rebuilds the live posterior
    # a progress bar was drawn on stderr, and the IOC's pid announced there
    assert "autonomous" in proc.stderr and "IOC (pid" in proc.stderr


def test_the_run_is_in_the_catalog_with_every_point(demo: dict) -> None:
    uid = re.search(r"run uid\s+(\S+)", demo["proc"].stdout).group(1)
    assert f"gpsteer replay {uid[:8]} --catalog" in demo["proc"].stdout
    with open_catalog(demo["out"] / "catalog") as catalog:
        run = catalog[uid]
        start, stop = run.metadata["start"], run.metadata["stop"]
        assert start["plan_name"] == "autonomous_plan"
        assert start["gpsteer"]["target"]["field"] == "saxs_q0"
        assert stop["exit_status"] == "success"
        assert stop["num_events"]["primary"] == BUDGET
        assert len(run["primary"].read()["saxs_q0"]) == BUDGET


def test_the_report_figure_is_a_readable_png(demo: dict) -> None:
    png = demo["out"] / "saxs_map.png"
    assert str(png) in demo["proc"].stdout
    with Image.open(png) as img:
        img.verify()
    with Image.open(png) as img:
        assert img.format == "PNG"
        assert img.size[0] >= 900 and img.size[1] >= 800
        # four panels of colour, not a blank canvas
        colours = img.convert("RGB").getcolors(maxcolors=1_000_000)
        assert colours is not None and len(colours) > 1000


def test_everything_the_demo_started_is_stopped(demo: dict) -> None:
    stderr = demo["proc"].stderr
    pid = int(re.search(r"IOC \(pid (\d+)\) serving (\S+)", stderr).group(1))
    prefix = re.search(r"IOC \(pid \d+\) serving (\S+)", stderr).group(1)
    assert not _alive(pid, prefix)


def test_ctrl_c_aborts_the_run_and_stops_everything(tmp_path: Path) -> None:
    """SIGINT once the plan has measured a point: exit status 130, the IOC gone, the run closed.

    Why wait for a measured point, not for the "running autonomous_plan" line: bluesky's
    SIGINT handler drops a Ctrl-C that lands after it is installed but before the
    RunEngine is 'running' (``request_pause`` raises TransitionError, which it
    swallows); a fresh clone's slower first imports put the signal in that window.
    """
    import signal

    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "gpsteer.demo", "--out", str(tmp_path), "--budget", "200"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    seen, rest = "", ""
    measured = re.compile(r"\b[1-9]\d*/200\b")  # the progress bar, redrawn with \r
    try:
        while True:
            chunk = os.read(proc.stderr.fileno(), 4096).decode(errors="replace")
            if not chunk:
                break
            seen += chunk
            if "running autonomous_plan" in seen and measured.search(seen):
                proc.send_signal(signal.SIGINT)
                break
        out, rest = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    seen += rest
    assert proc.returncode == 130, seen[-3000:]
    assert "interrupted: the run was aborted" in seen and "run uid" not in out
    pid = int(re.search(r"IOC \(pid (\d+)\) serving (\S+)", seen).group(1))
    prefix = re.search(r"IOC \(pid \d+\) serving (\S+)", seen).group(1)
    assert not _alive(pid, prefix)
    with open_catalog(tmp_path / "catalog") as catalog:
        stop = catalog[-1].metadata["stop"]
        assert stop["exit_status"] == "abort"
        assert stop["num_events"]["primary"] >= 1  # what was measured is kept


# -- the session's stations: started if not running -----------------------------------


def test_a_running_ioc_is_used_and_left_running(saxs_ioc) -> None:
    from gpsteer.session.beamline import Beamline
    from gpsteer.session.config import BeamlineConfig, StationConfig
    from gpsteer.sim_devices import launcher

    config = BeamlineConfig(
        stations=(StationConfig("saxs", prefix=saxs_ioc.prefix, port=saxs_ioc.port),)
    )
    before = {ioc.handle.pid for ioc in launcher.live_iocs()}
    with Beamline.from_config(config) as beamline:
        station = beamline["saxs"]
        assert not station.started and beamline.processes() == []
        assert station.stage.x.user_readback.get() is not None  # connected
        assert "found running" in beamline.describe()
    assert {ioc.handle.pid for ioc in launcher.live_iocs()} == before
    assert _alive(saxs_ioc.pid, saxs_ioc.prefix)


def test_a_configured_prefix_and_port_with_no_ioc_start_one_there() -> None:
    from gpsteer.session.beamline import Beamline
    from gpsteer.session.config import BeamlineConfig, StationConfig
    from gpsteer.sim_devices.loopback import find_free_port

    port = find_free_port()
    prefix = f"gpsteertest{port}:ir:"
    config = BeamlineConfig(stations=(StationConfig("ir", prefix=prefix, port=port),), seed=2)
    with Beamline.from_config(config) as beamline:
        station = beamline["ir"]
        assert station.started and (station.prefix, station.port, station.seed) == (
            prefix,
            port,
            2,
        )
        (process,) = beamline.processes()
        assert process.running
    assert not process.running and not _alive(process.handle.pid, prefix)
