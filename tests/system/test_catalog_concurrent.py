"""A second process reads the catalog while the session writes a run (issue 14, item 4).

Before: ``gpsteer replay <uid>`` in a second shell failed with a raw DuckDB "Conflicting
lock is held" while the session had the embedded catalog open. Now the session serves
its catalog on 127.0.0.1 (``open_catalog(directory, serve=True)``, as the beamline
profile does) and any process that opens the directory reads through that server.

Real parts: the simulated SAXS IOC, a RunEngine, the served catalog in this process;
the reader is another Python process (:mod:`tests.system.catalog_reader`) that opens
the catalog by its directory only. What it saw, and how long after each event, is
printed (``-s``); the latency figures in docs/catalog.md come from this test.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
from bluesky import RunEngine

from gpsteer import Agent
from gpsteer.catalog import list_runs, open_catalog
from gpsteer.plans import autonomous_plan

pytestmark = [pytest.mark.system, pytest.mark.slow]

READER = Path(__file__).with_name("catalog_reader.py")
POINTS = 20


def test_a_second_process_reads_and_replays_a_run_while_it_is_written(
    saxs_station, tmp_path: Path
) -> None:
    stage, detector = saxs_station
    directory = tmp_path / "catalog"
    RE = RunEngine(context_managers=[])
    catalog = open_catalog(directory, serve=True)
    reader = None
    try:
        catalog.subscribe(RE)
        assert catalog.served_at.startswith("http://127.0.0.1:")
        known = len(catalog)
        reader = subprocess.Popen(
            [sys.executable, str(READER), str(directory), str(known)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        (uid,) = RE(
            autonomous_plan(
                [detector],
                {stage.x: (-5.0, 5.0), stage.y: (-5.0, 5.0)},
                target=("saxs_q0", "saxs_q0_variance"),
                agent=Agent(bounds=[(-5.0, 5.0), (-5.0, 5.0)], seed=0),
                max_points=POINTS,
                progress=False,
            )
        )
        out, err = reader.communicate(timeout=300)
        assert reader.returncode == 0, err[-3000:]
        (line,) = [x for x in out.splitlines() if x.startswith("READER ")]
        seen = json.loads(line.removeprefix("READER "))
        # and the command line works meanwhile, in a third process
        runs = subprocess.run(
            [str(Path(sys.executable).with_name("gpsteer")), "runs", "--catalog", str(directory)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        if reader is not None and reader.poll() is None:
            reader.kill()
            reader.wait()
        summaries = list_runs(catalog)
        catalog.close()
    assert summaries[-1].uid == uid and summaries[-1].exit_status == "success"
    assert seen["final"] == POINTS, seen
    assert seen["seen_open"] >= 5  # events were visible while the run was open
    assert seen["replayed"] is not None and seen["replayed"] >= 5  # replayed mid-run
    assert runs.returncode == 0 and uid[:8] in runs.stdout, runs.stderr[-2000:]
    assert not (directory / "server.json").exists()  # the session stopped serving
    latencies = seen["latencies"]
    print(
        f"\nconcurrent reader: {len(latencies)} events; latency from event to visible in the "
        f"other process (poll every 0.1 s): median {statistics.median(latencies):.3f} s, "
        f"max {max(latencies):.3f} s"
    )
