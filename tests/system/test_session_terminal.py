"""The beamline session in a real terminal: Ctrl-C pauses a run and kills nothing (issue 14).

A user presses Ctrl-C in the terminal that runs ``ipython --profile-dir=profile_collection``;
the terminal sends SIGINT to its whole foreground process group. Before issue 14 that
group held the session's IOC and Dask worker processes, which died with it: the run
could never resume. Here the session runs on a pseudo-terminal
(:mod:`tests.system.terminal_session`) and Ctrl-C is pressed as a user presses it:

* at the idle prompt, and during ``RE(map_sample("saxs", ...))``: the run pauses, the
  IOC and the Dask workers live on, ``RE.resume()`` finishes the run with every point,
  trained on Dask to the end;
* ``exit`` returns within a bounded time and stops the IOC and the workers;
* a session killed with SIGKILL (no atexit hook runs) leaves no IOC or worker behind.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

pexpect = pytest.importorskip("pexpect", reason="the terminal tests need pexpect (IPython's)")

from tests.system.terminal_session import (  # noqa: E402
    TerminalSession,
    copy_profile,
    read_proc,
    session_env,
    wait_gone,
)

pytestmark = [pytest.mark.system, pytest.mark.slow, pytest.mark.timeout(900)]

POINTS = 24
#: Seconds for the profile to start on a busy 2-core machine (imports, an IOC, Dask).
STARTUP_S = 360
#: Printed by the session: the IOC and Dask worker processes it started.
PIDS = (
    "import os as _os; print('PIDS', [beamline['saxs'].process.handle.pid] + "
    "sorted(dask_client.run(_os.getpid).values()))"
)
#: A marker per stored event, so the test knows the run is under way.
MARKER = (
    "RE.subscribe(lambda name, doc: print('EVENT', doc['seq_num'], flush=True) "
    "if name == 'event' else None)"
)
#: What the catalog holds of the last run: a line the test parses.
REPORT = (
    "_docs = list(catalog[-1].documents()); "
    "_primary = {d['uid'] for n, d in _docs if n == 'descriptor' and d['name'] == 'primary'}; "
    "_seq = sorted({d['seq_num'] for n, d in _docs if n == 'event' "
    "and d['descriptor'] in _primary}); "
    "_stop = read_decisions(catalog[-1])[-1]; "
    "print('REPORT', repr({'exit_status': catalog[-1].metadata['stop']['exit_status'], "
    "'seq': _seq, 'backend': _stop.training.get('backend'), "
    "'fallbacks': _stop.training.get('n_fallbacks'), 'jobs': _stop.training.get('n_jobs'), "
    "'action': _stop.action}))"
)

REPLAY = (
    "_agent = replay(catalog[-1]); "
    "print('REPLAY', repr({'n': _agent.n, 'backend': _agent.training_status().backend})); "
    "_agent.close()"
)
RESUME = 'RE(resume_plan(catalog[-1], [saxs], beamline["saxs"].space(), max_points=3))'
RESUMED = (
    "_run = catalog[-1]; _agent = replay(_run); "
    "print('RESUMED', repr({'plan': _run.metadata['start']['plan_name'], "
    "'exit_status': _run.metadata['stop']['exit_status'], 'n': _agent.n})); _agent.close()"
)


def _start(tmp: Path) -> TerminalSession:
    session = TerminalSession(copy_profile(tmp), session_env(tmp), tmp, tmp / "terminal.log")
    session.expect("gpsteer beamline session", STARTUP_S)
    session.prompt(60)
    return session


def _pids(session: TerminalSession) -> list[int]:
    out = session.run(PIDS)
    match = re.search(r"PIDS (\[.*\])", out)
    assert match, session.transcript()
    return ast.literal_eval(match.group(1))


def _states(pids: list[int]) -> dict[int, str]:
    return {pid: (p.state if (p := read_proc(pid)) else "gone") for pid in pids}


@pytest.fixture(scope="module")
def ctrl_c_session(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One session, driven through the user's steps; the facts each step left."""
    tmp = tmp_path_factory.mktemp("terminal")
    facts: dict = {}
    session = _start(tmp)
    try:
        pids = facts["pids"] = _pids(session)
        assert len(pids) >= 2, f"expected an IOC and a Dask worker: {pids}"

        session.ctrl_c()  # at the idle prompt
        session.prompt(30)
        facts["after_idle_ctrl_c"] = _states(pids)

        session.run(MARKER)
        session.type_line(f'RE(map_sample("saxs", max_points={POINTS}))')
        session.expect_during_command(r"EVENT (?:[6-9]|\d\d)\b", 300)  # a few points in
        session.ctrl_c()
        facts["interrupted"] = session.prompt(120)
        facts["after_run_ctrl_c"] = _states(pids)
        facts["state"] = session.run("print('STATE', RE.state)")

        facts["resumed"] = session.run("RE.resume()", timeout=300)
        out = session.run(REPORT, timeout=60)
        match = re.search(r"REPORT (\{.*\})", out)
        assert match, session.transcript()
        facts["report"] = ast.literal_eval(match.group(1))

        out = session.run(REPLAY, timeout=120)  # replay and resume, no extra arguments
        match = re.search(r"REPLAY (\{.*\})", out)
        assert match, session.transcript()
        facts["replay"] = ast.literal_eval(match.group(1))
        facts["resume"] = session.run(RESUME, timeout=300)
        out = session.run(RESUMED, timeout=60)
        match = re.search(r"RESUMED (\{.*\})", out)
        assert match, session.transcript()
        facts["resumed_run"] = ast.literal_eval(match.group(1))

        facts["exit_status"], facts["exit_output"] = session.exit(timeout=90)
        facts["left_after_exit"] = wait_gone(pids, 30)
    finally:
        session.close()
    return facts


def test_ctrl_c_at_the_prompt_kills_no_child_process(ctrl_c_session: dict) -> None:
    states = ctrl_c_session["after_idle_ctrl_c"]
    assert all(s in "RS" for s in states.values()), states


def test_ctrl_c_during_a_run_pauses_it_and_kills_no_child_process(ctrl_c_session: dict) -> None:
    assert "RunEngineInterrupted" in ctrl_c_session["interrupted"]
    assert "STATE paused" in ctrl_c_session["state"]
    states = ctrl_c_session["after_run_ctrl_c"]
    assert all(s in "RS" for s in states.values()), states


def test_resume_finishes_the_run_with_every_point_trained_on_dask(ctrl_c_session: dict) -> None:
    report = ctrl_c_session["report"]
    assert re.search(r"Out\[\d+\]: \('[0-9a-f-]{36}',\)", ctrl_c_session["resumed"])
    assert report["exit_status"] == "success"
    assert report["seq"] == list(range(1, POINTS + 1))  # every point, each seq_num once
    assert report["action"] == "stop"
    assert report["backend"] == "dask" and report["fallbacks"] == 0 and report["jobs"] >= 1


def test_the_run_replays_and_resumes_with_no_extra_arguments(ctrl_c_session: dict) -> None:
    """Issue 14, item 3: ``new_agent()`` trains on the session's Dask client, which a run
    cannot store; replay and resume_plan asked for ``Agent.from_state(..., training=)``."""
    assert ctrl_c_session["replay"] == {"n": POINTS, "backend": "dask"}
    assert "Error" not in ctrl_c_session["resume"], ctrl_c_session["resume"][-3000:]
    resumed = ctrl_c_session["resumed_run"]
    assert resumed == {"plan": "resume_plan", "exit_status": "success", "n": POINTS + 3}


def test_exit_returns_and_stops_the_ioc_and_the_workers(ctrl_c_session: dict) -> None:
    output = ctrl_c_session["resumed"] + ctrl_c_session["resume"] + ctrl_c_session["exit_output"]
    assert ctrl_c_session["exit_status"] == 0, output[-3000:]
    assert ctrl_c_session["left_after_exit"] == []
    assert "Traceback" not in output and "Error" not in output, output[-3000:]


def test_a_killed_session_leaves_no_ioc_or_worker(tmp_path: Path) -> None:
    session = _start(tmp_path)
    try:
        pids = _pids(session)
        session.kill()  # SIGKILL: no atexit hook runs
        left = wait_gone(pids, 30)
    finally:
        session.close()
    assert left == [], {pid: read_proc(pid) for pid in left}
