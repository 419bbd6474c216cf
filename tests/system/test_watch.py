"""``gpsteer watch`` in a second process follows a run while a session writes it.

In a module of its own: the session here serves its catalog (as the beamline profile
does), and a served catalog in a process breaks the in-process client of an embedded
catalog opened before it in the same process (401 from tiled), which other modules'
module-scoped catalogs are.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from bluesky import RunEngine

from gpsteer.catalog import open_catalog, read_decisions
from gpsteer.plans import autonomous_plan
from tests.system.test_replay import SPACE, fast_agent, slow_det

pytestmark = pytest.mark.system


def test_watch_follows_a_run_from_another_process_while_it_is_written(tmp_path: Path) -> None:
    directory = tmp_path / "served"
    engine = RunEngine(context_managers=[])
    served = open_catalog(directory, serve=True)
    watcher, arrivals = None, []  # (monotonic time, line) as the watcher prints them

    def read_lines(stream: Any) -> None:
        for line in stream:
            arrivals.append((time.monotonic(), line.rstrip("\n")))

    try:
        served.subscribe(engine)
        command = [str(Path(sys.executable).with_name("gpsteer")), "watch"]
        command += ["--catalog", str(directory), "--interval", "0.2", "--timeout", "300"]
        watcher = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        reader = threading.Thread(target=read_lines, args=(watcher.stdout,), daemon=True)
        reader.start()
        deadline = time.monotonic() + 120
        while not arrivals and time.monotonic() < deadline:  # the watcher is up
            time.sleep(0.05)
        assert arrivals and arrivals[0][1].startswith("waiting for the next run")
        (uid,) = engine(
            autonomous_plan(
                [slow_det], SPACE, target="slow_det", agent=fast_agent(), max_points=12,
                progress=False,
            )
        )  # fmt: skip
        run_ended = time.monotonic()
        assert watcher.wait(timeout=300) == 0, watcher.stderr.read()
        reader.join(timeout=30)
        records = read_decisions(served[uid])
    finally:
        if watcher is not None and watcher.poll() is None:
            watcher.kill()
            watcher.wait(timeout=30)
        served.close()
        engine.loop.call_soon_threadsafe(engine.loop.stop)
    lines = [line for _, line in arrivals]
    assert lines[1].startswith(f"run {uid} (autonomous_plan")
    assert [line.split()[0] for line in lines[2:-1]] == [str(k) for k in range(len(records))]
    assert lines[-2].endswith("stop     max_points")
    # it followed the run: decisions were printed before the run had ended
    assert any(" measure " in line and t < run_ended for t, line in arrivals)
