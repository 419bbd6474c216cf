"""Start a simulated IOC in a subprocess, wait until it answers, stop it cleanly.

>>> from gpsteer.sim_devices.launcher import running_ioc
>>> with running_ioc("saxs", seed=3) as ioc:          # doctest: +SKIP
...     stage = XYStage(ioc.prefix, name="stage")
...     truth = ioc.sample().ground_truth(0.0, 0.0)

Each IOC gets a free loopback port and a unique prefix (two IOCs on one UDP port
both bind, but searches reach only one). Starting an IOC adds ``127.0.0.1:<port>``
to this process's ``EPICS_CA_ADDR_LIST`` (caproto re-reads it at every search),
so clients in this process find it; stopping removes it. Other processes use
``handle.client_env``. Call
:func:`~gpsteer.sim_devices.loopback.apply_loopback_env` before importing ophyd.

Each IOC runs in its own session (``setsid``), so the Ctrl-C a terminal sends to its
whole foreground process group reaches the Python session that started the IOC but
not the IOC: pausing a run never kills a device. Stopping sends SIGINT (the IOC
exits 0), then kills after a timeout; an ``atexit`` hook stops any IOC still running
when the interpreter exits. If the interpreter dies without running it (SIGKILL, a
crash, a closed terminal), the IOC notices that the pipe on its standard input
closed and exits (``--exit-with-stdin``): none is leaked either way.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from gpsteer.devices.stations import STATIONS, station_info
from gpsteer.errors import DeviceError
from gpsteer.sim_devices.loopback import (
    add_client_address,
    apply_loopback_env,
    client_env,
    find_free_port,
    remove_client_address,
    server_env,
)
from gpsteer.sim_devices.samples import Sample, make_sample

__all__ = [
    "IOC_MODULES",
    "IocHandle",
    "IocProcess",
    "live_iocs",
    "running_ioc",
    "start_ioc",
]

#: The module that serves each kind of end station (``python -m`` runs it).
IOC_MODULES: dict[str, str] = {kind: f"gpsteer.sim_devices.{kind}_ioc" for kind in STATIONS}
#: Readiness probe, relative to the prefix: every end station has an x motor.
READY_SUFFIX = "x.RBV"

_LIVE: weakref.WeakSet[IocProcess] = weakref.WeakSet()
_ENV_LOCK = threading.Lock()


@dataclass(frozen=True)
class IocHandle:
    """What a client needs to use a running IOC.

    Attributes
    ----------
    kind, prefix, port, seed, pid
        End-station kind, PV prefix (ends with ``:``), CA port on 127.0.0.1,
        hidden-sample seed, process id.
    client_env
        Environment for a CA client in another process (loopback only).
    log_path
        The IOC's stdout/stderr.
    """

    kind: str
    prefix: str
    port: int
    seed: int
    pid: int
    client_env: dict[str, str] = field(repr=False)
    log_path: str = field(repr=False)

    def pv(self, suffix: str) -> str:
        """Full PV name of ``suffix`` (e.g. ``"cam1:Acquire"``)."""
        return f"{self.prefix}{suffix}"

    def sample(self) -> Sample:
        """Rebuild the hidden sample this IOC shows (ground truth for tests)."""
        return make_sample(self.kind, self.seed)


class IocProcess:
    """A running IOC subprocess; :meth:`stop` is idempotent."""

    def __init__(self, handle: IocHandle, process: subprocess.Popen) -> None:
        self.handle = handle
        self.process = process
        self._registered = False

    @property
    def running(self) -> bool:
        """Whether the subprocess is still alive."""
        return self.process.poll() is None

    def stop(self, timeout: float = 5.0) -> int:
        """SIGINT, wait up to ``timeout`` s, then kill; return the exit code."""
        if self.process.poll() is None:
            try:
                self.process.send_signal(signal.SIGINT)
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        if self._registered:
            with _ENV_LOCK:
                remove_client_address(self.handle.port)
            self._registered = False
        _LIVE.discard(self)
        code = self.process.returncode
        if code <= 0:  # clean exit or killed by a signal; a crash (code > 0) keeps its log
            with contextlib.suppress(OSError):
                os.unlink(self.handle.log_path)
        return code

    def log_tail(self, n_chars: int = 2000) -> str:
        """The end of the IOC's log, for error messages."""
        try:
            with open(self.handle.log_path, errors="replace") as log:
                return log.read()[-n_chars:]
        except OSError:
            return "<no log>"

    def __enter__(self) -> IocHandle:
        return self.handle

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_ioc(
    kind: str,
    *,
    prefix: str | None = None,
    seed: int = 0,
    port: int | None = None,
    velocity: float | None = None,
    ready_timeout: float = 30.0,
    extra_args: Sequence[str] = (),
) -> IocProcess:
    """Start an IOC of ``kind`` (``"saxs"``, ``"arpes"``, ``"ir"``) and wait for it.

    Parameters
    ----------
    prefix
        PV prefix; a unique ``gpsteer<hex>:<kind>:`` when ``None``.
    seed
        Hidden-sample seed (``handle.sample()`` rebuilds the sample).
    port
        CA port; a free one when ``None`` (and retried if taken meanwhile).
    velocity
        Motor velocity, mm/s (IOC default when ``None``).
    ready_timeout
        Seconds to wait until ``<prefix>x.RBV`` answers a CA read.

    Raises
    ------
    DeviceError
        The IOC exited or did not answer in time; the message holds its log.
    """
    station_info(kind)  # an unknown kind: the error lists the known ones
    prefix = prefix or f"gpsteer{uuid.uuid4().hex[:8]}:{kind}:"
    with _ENV_LOCK:
        apply_loopback_env()
    attempts = 1 if port is not None else 3
    last_error: DeviceError | None = None
    for _ in range(attempts):
        chosen = port if port is not None else find_free_port()
        ioc = _spawn(kind, prefix, seed, chosen, velocity, extra_args)
        try:
            _wait_ready(ioc, ready_timeout)
        except DeviceError as exc:
            ioc.stop()
            with contextlib.suppress(OSError):  # its tail is in the error message
                os.unlink(ioc.handle.log_path)
            last_error = exc
            continue
        return ioc
    assert last_error is not None
    raise last_error


@contextlib.contextmanager
def running_ioc(kind: str, **kwargs) -> Iterator[IocHandle]:
    """Context manager around :func:`start_ioc`; the IOC is stopped on exit."""
    ioc = start_ioc(kind, **kwargs)
    try:
        yield ioc.handle
    finally:
        ioc.stop()


def _spawn(
    kind: str,
    prefix: str,
    seed: int,
    port: int,
    velocity: float | None,
    extra_args: Sequence[str],
) -> IocProcess:
    repeater = find_free_port()
    env = {**os.environ, **server_env(port, repeater), "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", IOC_MODULES[kind], "--prefix", prefix, "--port", str(port)]
    cmd += ["--seed", str(int(seed)), "--quiet", "--exit-with-stdin"]
    if velocity is not None:
        cmd += ["--velocity", str(float(velocity))]
    cmd += list(extra_args)
    log = tempfile.NamedTemporaryFile(prefix=f"gpsteer-{kind}-ioc-", suffix=".log", delete=False)
    with log:
        # Own session: out of the terminal's process group (Ctrl-C). stdin: a pipe this
        # process holds open; the IOC exits when it closes (this process died).
        process = subprocess.Popen(
            cmd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    handle = IocHandle(
        kind=kind,
        prefix=prefix,
        port=port,
        seed=int(seed),
        pid=process.pid,
        client_env=client_env([port]),
        log_path=log.name,
    )
    ioc = IocProcess(handle, process)
    _LIVE.add(ioc)
    with _ENV_LOCK:
        add_client_address(port)
    ioc._registered = True
    return ioc


def _wait_ready(ioc: IocProcess, timeout: float) -> None:
    from caproto.sync.client import read  # client import only after the env is set

    pv = ioc.handle.pv(READY_SUFFIX)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not ioc.running:
            raise DeviceError(
                f"the {ioc.handle.kind} IOC exited with code {ioc.process.returncode} before "
                f"answering on port {ioc.handle.port}; its log ends with:\n{ioc.log_tail()}"
            )
        try:
            read(pv, timeout=0.5, repeater=False)
            return
        except (TimeoutError, OSError):
            time.sleep(0.05)
    raise DeviceError(
        f"the {ioc.handle.kind} IOC did not answer {pv} on 127.0.0.1:{ioc.handle.port} within "
        f"{timeout} s; raise ready_timeout on a slow machine. Log:\n{ioc.log_tail()}"
    )


def live_iocs() -> list[IocProcess]:
    """IOCs started by this process that are still running (to check for leaks)."""
    return [ioc for ioc in list(_LIVE) if ioc.running]


@atexit.register
def _stop_all() -> None:
    for ioc in list(_LIVE):
        ioc.stop(timeout=2.0)
