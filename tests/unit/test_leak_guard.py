"""The per-test leak guard (tests/conftest.py) fails a test that leaves a thread or a
child process running, and only that test."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_guard_fails_the_tests_that_leak(tmp_path: Path) -> None:
    # A separate pytest process with its own environment: this process's environment
    # must not change (a deleted variable kills caproto's search thread, see conftest).
    (tmp_path / "conftest.py").write_text(
        "import tests.conftest as guard\n"
        "from tests.conftest import _no_leaked_threads_or_processes  # noqa: F401\n"
        "guard.LEAK_GRACE_S = 0.5\n"
    )
    (tmp_path / "test_leaks.py").write_text(
        textwrap.dedent(
            """
            import subprocess, sys, threading

            def test_leaves_a_thread():
                threading.Thread(
                    target=threading.Event().wait, args=(30,), name="gpsteer-leak", daemon=True
                ).start()

            def test_leaves_a_process():
                subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])

            def test_cleans_up():
                thread = threading.Thread(target=lambda: None, name="gpsteer-done")
                thread.start()
                subprocess.Popen([sys.executable, "-c", "pass"]).wait()
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", tmp_path],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = result.stdout
    assert "3 passed, 2 errors" in out, out[-3000:]
    assert re.search(r"test_leaves_a_thread left running: threads \['gpsteer-leak'\]", out), out
    assert re.search(r"test_leaves_a_process left running: .*sleep\(30\)", out), out
