"""What the three simulated IOCs share: acquisition PVs, the server, the command line.

* :class:`AcquisitionPVs` is an areaDetector-style acquisition block (``Acquire``,
  ``AcquireTime``, ``ArrayCounter_RBV``, ...) used as a ``SubGroup``; its parent
  IOC implements ``publish_frame(exposure_s)``.
* :func:`run_server` runs a PV group on loopback with TCP_NODELAY on every
  circuit (caproto never sets it, so each put-completion reply would otherwise
  wait ~40 ms for the client's delayed ACK).
* :func:`ioc_main` is the ``__main__`` of each IOC: caproto's argument parser plus
  ``--port``, ``--seed``, ``--velocity`` and ``--exit-with-stdin``, loopback
  enforced; ``--list-pvs`` prints the PV names and exits.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from typing import Protocol

from caproto import ChannelType
from caproto.asyncio.server import Context
from caproto.server import PVGroup, pvproperty, template_arg_parser

from gpsteer.errors import ConfigurationError, InputError
from gpsteer.sim_devices.loopback import LOOPBACK, server_env
from gpsteer.sim_devices.motor import SimMotor
from gpsteer.sim_devices.samples import Domain

__all__ = [
    "AcquisitionPVs",
    "FrameSource",
    "NoDelayContext",
    "configure_stage",
    "ioc_main",
    "run_server",
]


class FrameSource(Protocol):
    """The parent of an :class:`AcquisitionPVs` block: it makes and publishes frames."""

    async def publish_frame(self, exposure_s: float) -> None:
        """Compute a frame at the current motor positions and write the data PVs."""


class AcquisitionPVs(PVGroup):
    """areaDetector-style acquisition control (use as ``SubGroup(prefix="cam1:")``).

    PVs (relative to the SubGroup prefix)
    -------------------------------------
    Acquire             put 1: expose, publish a frame; the put completes after it
    Acquire_RBV         1 while acquiring
    AcquireTime         exposure time (s); _RBV mirrors it
    ArrayCounter        frame counter (writeable, e.g. to reset)
    ArrayCounter_RBV    frame counter, written *after* the frame data
    DetectorState_RBV   Idle / Acquire
    """

    acquire = pvproperty(value=0, name="Acquire", dtype=ChannelType.LONG, doc="Start acquisition")
    acquire_rbv = pvproperty(value=0, name="Acquire_RBV", dtype=ChannelType.LONG, read_only=True)
    acquire_time = pvproperty(
        value=0.1,
        name="AcquireTime",
        precision=3,
        lower_ctrl_limit=0.001,
        upper_ctrl_limit=60.0,
        doc="Exposure time (s): longer is slower and less noisy",
    )
    acquire_time_rbv = pvproperty(value=0.1, name="AcquireTime_RBV", precision=3, read_only=True)
    array_counter = pvproperty(value=0, name="ArrayCounter", dtype=ChannelType.LONG)
    array_counter_rbv = pvproperty(
        value=0, name="ArrayCounter_RBV", dtype=ChannelType.LONG, read_only=True
    )
    detector_state = pvproperty(
        value="Idle",
        name="DetectorState_RBV",
        dtype=ChannelType.ENUM,
        enum_strings=["Idle", "Acquire"],
        read_only=True,
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._lock = asyncio.Lock()

    @acquire.putter
    async def acquire(self, instance, value: int) -> int:
        if not value:
            return 0
        source: FrameSource = self.parent
        async with self._lock:  # one exposure at a time, like a real detector
            await instance.write(1, verify_value=False)
            await self.acquire_rbv.write(1)
            await self.detector_state.write("Acquire")
            exposure_s = float(self.acquire_time.value)
            await asyncio.sleep(exposure_s)
            await source.publish_frame(exposure_s)
            count = int(self.array_counter.value) + 1
            await self.array_counter.write(count, verify_value=False)
            await self.array_counter_rbv.write(count)  # last: marks the frame as fresh
            await self.detector_state.write("Idle")
            await self.acquire_rbv.write(0)
        return 0

    @acquire_time.putter
    async def acquire_time(self, instance, value: float) -> float:
        await self.acquire_time_rbv.write(float(value))
        return float(value)

    @array_counter.putter
    async def array_counter(self, instance, value: int) -> int:
        await self.array_counter_rbv.write(int(value))
        return int(value)


def configure_stage(
    x: SimMotor, y: SimMotor, domain: Domain, velocity: float, margin: float = 1.0
) -> None:
    """Set both motors' velocity, and soft limits = the sample domain plus ``margin`` mm."""
    x.configure(velocity=velocity, limits=(domain.x[0] - margin, domain.x[1] + margin))
    y.configure(velocity=velocity, limits=(domain.y[0] - margin, domain.y[1] + margin))


class NoDelayContext(Context):
    """caproto's asyncio server with TCP_NODELAY on each client circuit."""

    async def tcp_handler(self, client, addr):
        writer = getattr(client, "writer", None)
        sock = writer.get_extra_info("socket") if writer is not None else None
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return await super().tcp_handler(client, addr)


def _check_interfaces(interfaces: Sequence[str]) -> list[str]:
    bad = [i for i in interfaces if not i.startswith("127.")]
    if bad:
        raise ConfigurationError(
            f"simulated IOCs listen on loopback only; got interfaces {bad}: "
            f"pass --interfaces {LOOPBACK} (the default)"
        )
    return list(interfaces)


def run_server(
    group: PVGroup,
    *,
    interfaces: Sequence[str] = (LOOPBACK,),
    log_pv_names: bool = False,
    exit_with_stdin: bool = False,
) -> None:
    """Serve ``group`` until SIGINT/SIGTERM, on loopback interfaces only.

    ``exit_with_stdin``: also stop when standard input (a pipe from the process that
    started the IOC) reaches end of file. The launcher starts IOCs in their own
    session, out of reach of the terminal's Ctrl-C; the pipe closing is how an IOC
    learns that its session died without stopping it (killed, crashed).
    """
    interfaces = _check_interfaces(interfaces)

    async def serve() -> None:
        ctx = NoDelayContext(group.pvdb, interfaces)
        task = asyncio.ensure_future(ctx.run(log_pv_names=log_pv_names))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        if exit_with_stdin:
            _cancel_on_end_of_input(loop, task)
        try:
            await task
        except asyncio.CancelledError:
            pass

    asyncio.run(serve())


def _cancel_on_end_of_input(loop: asyncio.AbstractEventLoop, task: asyncio.Future) -> None:
    """Cancel ``task`` once standard input reaches end of file (the writer is gone)."""
    fd = sys.stdin.fileno()

    def readable() -> None:
        try:
            data = os.read(fd, 4096)
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(fd)
            task.cancel()

    loop.add_reader(fd, readable)


def pv_listing(group: PVGroup) -> str:
    """One line per PV of ``group``, in definition order: the name and its doc, if any."""
    lines = []
    for name, channel in group.pvdb.items():
        doc = channel.__doc__ if channel.__doc__ != type(channel).__doc__ else None
        record = getattr(channel, "record_type", None)
        extra = f" ({record} record: .RBV .DMOV .MOVN .STOP .VELO .HLM .LLM ...)" if record else ""
        lines.append(f"{name:40s} {doc or ''}{extra}".rstrip())
    return "\n".join(lines)


def ioc_main(
    make_group: Callable[..., PVGroup],
    *,
    description: str,
    default_prefix: str,
    argv: Sequence[str] | None = None,
    prog: str | None = None,
) -> None:
    """Parse the command line, apply the loopback environment and serve the IOC.

    ``make_group(prefix=..., seed=..., velocity=...)`` builds the PV group. The
    process environment is changed (loopback variables, server port) only once
    the arguments are valid, just before serving.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, split_args = template_arg_parser(
        desc=inspect.cleandoc(description),
        default_prefix=default_prefix,
        supported_async_libs=["asyncio"],
    )
    if prog:
        parser.prog = prog
    if not os.environ.get("EPICS_CAS_INTF_ADDR_LIST"):
        parser.set_defaults(interfaces=[LOOPBACK])  # caproto's default is 0.0.0.0
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("EPICS_CA_SERVER_PORT", 5064)),
        help="CA server port on 127.0.0.1 (default: $EPICS_CA_SERVER_PORT or 5064)",
    )
    parser.add_argument("--seed", type=int, default=0, help="hidden-sample seed (default 0)")
    parser.add_argument(
        "--velocity", type=float, default=5.0, help="motor velocity, mm/s (default 5)"
    )
    parser.add_argument(
        "--exit-with-stdin",
        action="store_true",
        help="also exit when standard input closes (used by gpsteer's launcher: the IOC "
        "then stops when the session that started it dies)",
    )
    for action in parser._actions:  # caproto's --list-pvs logs the names and serves on
        if action.dest == "list_pvs":
            action.help = "print the PV names (with their descriptions) and exit"
    args = parser.parse_args(argv)
    try:
        interfaces = _check_interfaces(args.interfaces)
        group = make_group(prefix=args.prefix, seed=args.seed, velocity=args.velocity)
    except (ConfigurationError, InputError) as exc:
        parser.error(str(exc))
    if args.list_pvs:
        print(pv_listing(group))
        return
    split_args(args)  # configures caproto's logging (-q, -v)
    os.environ.update(server_env(args.port, _int_env("EPICS_CA_REPEATER_PORT")))
    run_server(group, interfaces=interfaces, exit_with_stdin=args.exit_with_stdin)


def _int_env(name: str) -> int | None:
    try:
        return int(os.environ[name])
    except (KeyError, ValueError):
        return None
