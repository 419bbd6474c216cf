"""Move, trigger and read: one measurement, with device failures named and explained.

A move that times out, an IOC that is gone, a detector whose status fails: the plan
raises a :class:`~gpsteer.errors.DeviceError` that names the device and says what
was being done, instead of a bare ophyd or caproto exception.
"""

from __future__ import annotations

import uuid
from collections.abc import Generator, Sequence
from typing import Any

import bluesky.plan_stubs as bps
import numpy as np
from bluesky.utils import FailedStatus, Msg, RunEngineControlException

from gpsteer.errors import DeviceError, GpsteerError

__all__ = [
    "MOVE_TIMEOUT_MARGIN_S",
    "default_move_timeout",
    "device_error",
    "move",
    "move_and_read",
]

#: Packages whose exceptions, raised by a move or a reading, are device failures.
DEVICE_PACKAGES = ("ophyd", "ophyd_async", "caproto", "epics")
#: Seconds added to every default move timeout (a put, a settle, a busy IOC).
MOVE_TIMEOUT_MARGIN_S = 10.0


def default_move_timeout(distance: float, velocity: float, acceleration: float) -> float:
    """Seconds a motor record may take to move ``distance`` (EGU) at ``velocity`` (EGU/s)
    with ``acceleration`` (s to full speed).

    Twice the time the move needs, plus :data:`MOVE_TIMEOUT_MARGIN_S`: generous for a
    working motor, finite for one whose IOC died in the middle of the move.
    """
    return 2.0 * (abs(distance) / velocity + 2.0 * acceleration) + MOVE_TIMEOUT_MARGIN_S


def move_and_read(
    motors: Sequence[Any],
    point: np.ndarray,
    detectors: Sequence[Any],
    *,
    timeouts: Sequence[float | None] | None = None,
    context: str = "",
    advice: str = "",
) -> Generator[Msg, Any, None]:
    """Move ``motors`` to ``point``, then trigger and read ``detectors`` and the motors.

    One event in the open stream (``primary``). ``timeouts`` (one per motor, None:
    the motor's own) bounds each move: ophyd's ``EpicsMotor`` waits for ever for a
    move whose IOC died half-way. A device failure is raised as a
    :class:`~gpsteer.errors.DeviceError` (see :func:`device_error`; ``context`` and
    ``advice`` go into its message).
    """
    names = [getattr(m, "name", repr(m)) for m in motors]
    where = ", ".join(f"{n}={float(v):.6g}" for n, v in zip(names, point, strict=True))
    try:
        yield from move(motors, point, timeouts)
    except Exception as exc:
        error = device_error(exc, motors, f"moving to {where}", context, advice)
        if error is exc:
            raise
        raise error from exc
    try:
        yield from bps.trigger_and_read([*detectors, *motors])
    except Exception as exc:
        error = device_error(exc, detectors, f"measuring at {where}", context, advice)
        if error is exc:
            raise
        raise error from exc


def move(
    motors: Sequence[Any], point: np.ndarray, timeouts: Sequence[float | None] | None = None
) -> Generator[Msg, Any, None]:
    """Move every motor to ``point`` at once and wait; ``timeouts`` as for
    :func:`move_and_read`."""
    timeouts = [None] * len(motors) if timeouts is None else timeouts
    group = f"gpsteer-move-{uuid.uuid4().hex[:8]}"
    for motor, value, timeout in zip(motors, point, timeouts, strict=True):
        kwargs = {} if timeout is None else {"timeout": timeout}
        yield from bps.abs_set(motor, float(value), group=group, **kwargs)
    yield from bps.wait(group=group)


def device_error(
    exc: Exception, devices: Sequence[Any], doing: str, context: str = "", advice: str = ""
) -> Exception:
    """``exc`` as a :class:`DeviceError` naming the device; other errors unchanged.

    Only device failures are translated: a failed status, a timeout, a lost
    connection, an ophyd/caproto error. RunEngine control (stop, abort) and
    errors of callbacks (a target reduction, the catalog) pass through unchanged.
    The message reads ``"<device> failed while <doing> (<context>): <cause>. <advice>"``.
    """
    package = type(exc).__module__.split(".")[0]
    if (
        not isinstance(exc, (FailedStatus, TimeoutError, OSError))
        and package not in DEVICE_PACKAGES
    ):
        return exc
    if isinstance(exc, (RunEngineControlException, GpsteerError)):
        return exc
    cause: BaseException = exc
    names = [getattr(d, "name", repr(d)) for d in devices]
    if isinstance(exc, FailedStatus):
        status = exc.args[0] if exc.args else None
        device = getattr(status, "device", None) or getattr(status, "obj", None)
        if device is not None:
            names = [getattr(device, "name", repr(device))]
        cause = exc.__cause__ or exc
    text = str(cause).rstrip(". ")
    what = f"{type(cause).__name__}: {text}" if text else type(cause).__name__
    if type(cause).__name__ == "StatusTimeoutError" and doing.startswith("moving"):
        what += (
            " (the move did not finish in time: its IOC may have died during the move. "
            "Without a motor.timeout of its own, a motor record gets 2 x (distance / "
            f"velocity + 2 x acceleration) + {MOVE_TIMEOUT_MARGIN_S:g} s)"
        )
    where = f" ({context})" if context else ""
    return DeviceError(f"{' / '.join(names)} failed while {doing}{where}: {what}. {advice}".strip())
