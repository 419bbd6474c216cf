"""The per-test leak guard (tests/conftest.py) fails a test that leaves a thread or a
child process running, and only that test."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_guard_fails_the_tests_that_leak(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makeconftest(
        "import tests.conftest as guard\n"
        "from tests.conftest import _no_leaked_threads_or_processes  # noqa: F401\n"
        "guard.LEAK_GRACE_S = 0.5\n"
    )
    pytester.makepyfile(
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
            process = subprocess.Popen([sys.executable, "-c", "pass"])
            process.wait()
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, errors=2)
    result.stdout.re_match_lines(
        [
            r".*test_leaves_a_thread left running: threads \['gpsteer-leak'\]",
            r".*test_leaves_a_process left running: threads \[\], child processes .*sleep\(30\)",
        ]
    )
