"""The IPython beamline profile in a pseudo-terminal, driven as a user at a keyboard drives it.

:class:`TerminalSession` starts ``ipython --profile-dir=...`` on a pseudo-terminal
(``pexpect``: the child gets its own session with the pty as controlling terminal), types
lines, and presses Ctrl-C by writing the terminal's interrupt character: the kernel's
line discipline then sends SIGINT to the terminal's whole foreground process group,
exactly as a real terminal (or ``tmux send-keys C-c``) does. A test that sends SIGINT
to the Python process alone misses what that does to the processes the session started.

``--simple-prompt`` keeps the prompts plain text (``In [3]:``); while a command runs
the terminal is in the same cooked mode either way, so Ctrl-C reaches the same
processes.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pexpect

ROOT = Path(__file__).resolve().parents[2]
PROFILE = ROOT / "profile_collection"
PROMPT = re.compile(r"In \[(\d+)\]: ")
#: Files IPython writes into a profile directory: not copied.
_IGNORED = ("history.sqlite*", "db", "log", "pid", "security", "__pycache__")


@dataclass(frozen=True)
class Proc:
    """A process as /proc shows it."""

    pid: int
    ppid: int
    state: str
    cmdline: str

    @property
    def alive(self) -> bool:
        return self.state not in ("Z", "X")


def read_proc(pid: int) -> Proc | None:
    """The process ``pid``, or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return Proc(pid, int(fields[1]), fields[0], cmdline.strip())


def descendants(pid: int) -> list[Proc]:
    """Every process below ``pid`` (children, their children, ...)."""
    procs = [p for p in (read_proc(int(d)) for d in os.listdir("/proc") if d.isdigit()) if p]
    children: dict[int, list[Proc]] = {}
    for p in procs:
        children.setdefault(p.ppid, []).append(p)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child.pid)
    return found


def wait_gone(pids: list[int], timeout: float) -> list[int]:
    """Poll until none of ``pids`` runs (or is a zombie); return those still there."""
    deadline = time.monotonic() + timeout
    while True:
        left = [pid for pid in pids if read_proc(pid) is not None]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def copy_profile(tmp: Path) -> Path:
    """A copy of ``profile_collection`` (IPython writes its history into the profile)."""
    profile = tmp / "profile_collection"
    shutil.copytree(PROFILE, profile, ignore=shutil.ignore_patterns(*_IGNORED))
    return profile


def session_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The environment of a one-station (SAXS) session whose data go to ``tmp``."""
    env = {
        **os.environ,
        "GPSTEER_STATIONS": "saxs",
        "GPSTEER_DATA_DIR": str(tmp / "data"),
        "MPLBACKEND": "Agg",
        "PYTHONUNBUFFERED": "1",
        "TERM": "dumb",
        **extra,
    }
    env.pop("GPSTEER_BEAMLINE_CONFIG", None)
    return env


def _terminal_dispositions() -> None:
    """Ctrl-C and Ctrl-\\ as a login shell leaves them to what it runs: not ignored.

    Why: a test run started in the background of a non-interactive shell (``make test &``,
    ``nohup``) inherits SIGINT and SIGQUIT ignored, and an ignored signal stays ignored
    across exec: the session would then never see the Ctrl-C the test sends.
    """
    for sig in (signal.SIGINT, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_DFL)


class TerminalSession:
    """``ipython --profile-dir=PROFILE`` on a pseudo-terminal; everything it prints is logged.

    Every wait has a timeout; a timeout fails with the end of the transcript.
    """

    def __init__(self, profile: Path, env: Mapping[str, str], cwd: Path, log: Path) -> None:
        self.log_path = log
        self._log = open(log, "w")  # closed in close()
        self.child = pexpect.spawn(
            sys.executable,
            [
                "-m",
                "IPython",
                f"--profile-dir={profile}",
                "--no-banner",
                "--colors=nocolor",
                "--simple-prompt",
            ],
            env=dict(env),
            cwd=str(cwd),
            encoding="utf-8",
            codec_errors="replace",
            dimensions=(50, 200),
            timeout=60,
            preexec_fn=_terminal_dispositions,
        )
        self.child.logfile_read = self._log
        self.pid = self.child.pid

    # ------------------------------------------------------------------ reading
    def transcript(self, n_chars: int = 4000) -> str:
        """The end of what the session printed."""
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-n_chars:]

    def expect(self, pattern: str | re.Pattern[str], timeout: float) -> re.Match[str]:
        """Wait until the output matches ``pattern``; return the match."""
        try:
            self.child.expect(pattern, timeout=timeout)
        except (pexpect.TIMEOUT, pexpect.EOF) as exc:
            what = "timed out" if isinstance(exc, pexpect.TIMEOUT) else "ended"
            raise AssertionError(
                f"the session {what} waiting {timeout:g} s for {pattern!r}; it printed:\n"
                f"{self.transcript()}"
            ) from None
        return self.child.match

    def expect_during_command(self, pattern: str, timeout: float) -> re.Match[str]:
        """Like :meth:`expect`, for output of a running command: fail at once if the
        command ends (a prompt appears) before ``pattern`` did."""
        index = self.child.expect([pattern, PROMPT, pexpect.TIMEOUT, pexpect.EOF], timeout)
        if index != 0:
            raise AssertionError(
                f"the command ended (or {timeout:g} s passed) before {pattern!r} appeared; "
                f"the session printed:\n{self.transcript()}"
            )
        return self.child.match

    def prompt(self, timeout: float = 60) -> str:
        """Wait for the next ``In [n]:`` prompt; return what was printed before it."""
        self.expect(PROMPT, timeout)
        return self.child.before

    # ------------------------------------------------------------------ typing
    def type_line(self, line: str) -> None:
        """Type ``line`` and Enter."""
        self.child.sendline(line)

    def run(self, line: str, timeout: float = 60) -> str:
        """Type ``line``, wait for the next prompt, return its output."""
        self.type_line(line)
        return self.prompt(timeout)

    def ctrl_c(self) -> None:
        """Press Ctrl-C: the terminal sends SIGINT to its foreground process group."""
        self.child.sendintr()

    # ------------------------------------------------------------------ ending
    def exit(self, timeout: float) -> tuple[int | None, str]:
        """Type ``exit`` and wait for IPython to end; return its exit status and last output."""
        self.type_line("exit")
        self.expect(pexpect.EOF, timeout)
        output = self.child.before
        self.child.close()
        return self.child.exitstatus, output

    def kill(self) -> None:
        """SIGKILL the IPython process (no atexit hook runs)."""
        os.kill(self.pid, signal.SIGKILL)

    def close(self) -> None:
        """Make sure the IPython process is gone."""
        if self.child.isalive():
            self.child.close(force=True)
        self._log.close()
