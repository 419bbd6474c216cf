"""A simulated motor record that ophyd's ``EpicsMotor`` drives reliably.

Use it as a ``SubGroup`` (``x = SubGroup(SimMotor, prefix="x", velocity=5.0)``):
the record is then ``{P}x`` with fields ``{P}x.RBV``, ``{P}x.DMOV``, ...

It implements the behaviour EpicsMotor relies on (see NOTES.md, "Simulated
motors"), which plain caproto examples get wrong:

* finite velocity: RBV ramps at ``.VELO`` (EGU/s), published every ``tick_s``;
* soft limits ``.HLM``/``.LLM`` are also written as the control limits of ``.VAL``,
  so ``EpicsMotor.limits`` is right and a put outside them fails (ECA_PUTFAIL);
* ``.DMOV`` goes 1 -> 0 -> 1 on *every* ``.VAL`` write, zero-length moves
  included, and the final ``.RBV`` is published before ``.DMOV`` = 1;
* ``.STOP`` is momentary: it stops the move in progress and reads back 0, so the
  ``stop()`` the RunEngine sends at the end of a plan cannot cancel the first
  move of the next one;
* ``.VAL`` puts complete (put-callback) when the move ends;
* a new ``.VAL`` during a move retargets it (the superseded put completes at once).
"""

from __future__ import annotations

import asyncio
import time

from caproto import SkipWrite
from caproto.server import PVGroup, pvproperty

from gpsteer.errors import InputError

__all__ = ["PRECISION", "SimMotor"]

#: Decimal places of positions (.PREC, and the precision of .VAL and .RBV): 0.1 um.
PRECISION = 4


class SimMotor(PVGroup):
    """One motor record (the ``''``-named pvproperty) and its simulated motion.

    PVs (relative to the SubGroup prefix ``M``)
    -------------------------------------------
    M            .VAL, setpoint; the put completes when the move ends
    M.RBV        user readback (also .DRBV, .RRBV)
    M.DMOV/.MOVN done-moving / moving flags
    M.STOP       momentary stop (always reads 0)
    M.VELO       velocity, EGU/s (.VMAX, .ACCL informational)
    M.HLM/.LLM   soft limits (mirrored to .DHLM/.DLLM and .VAL's control limits)
    M.TDIR       direction of the last move (1 positive)
    M.EGU/.PREC  units, precision
    """

    motor = pvproperty(
        value=0.0,
        name="",
        record="motor",
        precision=PRECISION,
        doc="Simulated motor (motor record subset)",
    )

    def __init__(
        self,
        *args,
        velocity: float = 5.0,
        limits: tuple[float, float] = (-6.0, 6.0),
        position: float = 0.0,
        egu: str = "mm",
        tick_s: float = 0.02,
        **kwargs,
    ) -> None:
        if not limits[0] < limits[1]:
            raise InputError(f"motor limits need lo < hi, got {limits}")
        if not limits[0] <= position <= limits[1]:
            raise InputError(f"initial position {position} is outside the limits {limits}")
        if velocity <= 0 or tick_s <= 0:
            raise InputError("velocity and tick_s must be positive")
        super().__init__(*args, **kwargs)
        self._velocity = float(velocity)
        self._limits = (float(limits[0]), float(limits[1]))
        self._position = float(position)
        self._egu = egu
        self.tick_s = float(tick_s)
        self._move_id = 0
        self._moving = False
        self._stop_requested = False

    def configure(
        self,
        *,
        velocity: float | None = None,
        limits: tuple[float, float] | None = None,
        position: float | None = None,
    ) -> None:
        """Change start-up settings after construction (before the server starts).

        A ``SubGroup`` fixes its keyword arguments in the class body; the IOC calls
        this with its command-line values.
        """
        if velocity is not None:
            if velocity <= 0:
                raise InputError(f"velocity must be positive, got {velocity}")
            self._velocity = float(velocity)
        if limits is not None:
            if not limits[0] < limits[1]:
                raise InputError(f"motor limits need lo < hi, got {limits}")
            self._limits = (float(limits[0]), float(limits[1]))
        if position is not None:
            self._position = float(position)
        if not self._limits[0] <= self._position <= self._limits[1]:
            raise InputError(f"position {self._position} is outside the limits {self._limits}")

    @property
    def position(self) -> float:
        """Current readback (mm): what the detector IOC uses as the beam position."""
        return float(self.motor.field_inst.user_readback_value.value)

    @motor.startup
    async def motor(self, instance, async_lib) -> None:
        fields = instance.field_inst
        # Readbacks carry the record's precision and units (ophyd's EpicsMotor reads them
        # from .RBV: without them BestEffortCallback shows positions as integers).
        await fields.display_precision.write(PRECISION)
        for readback in (fields.user_readback_value, fields.dial_readback_value):
            await readback.write_metadata(precision=PRECISION, units=self._egu)
        await instance.write_metadata(units=self._egu)
        await fields.engineering_units.write(self._egu)
        await fields.velocity.write(self._velocity)
        await fields.max_velocity.write(self._velocity * 10)
        await fields.seconds_to_velocity.write(0.0)
        await fields.motor_step_size.write(1e-6)
        await fields.user_low_limit.write(self._limits[0])
        await fields.user_high_limit.write(self._limits[1])
        await fields.enable_control.write(1)
        await self._publish_position(fields, self._position)
        await fields.motor_is_moving.write(0)
        await fields.done_moving_to_value.write(1)
        await instance.write(self._position, verify_value=False)

    @motor.putter
    async def motor(self, instance, value: float) -> float:
        fields = instance.field_inst
        value = float(value)
        # caproto already enforced the control limits (= HLM/LLM) before this call.
        self._move_id += 1
        move_id = self._move_id
        self._stop_requested = False
        self._moving = True
        start = self.position
        distance = value - start
        velocity = max(float(fields.velocity.value), 1e-9)
        duration = abs(distance) / velocity
        await instance.write(value, verify_value=False)  # .VAL shows the target at once
        await fields.dial_desired_value.write(value, verify_value=False)
        await fields.direction_of_travel.write(1 if distance >= 0 else 0)
        await fields.done_moving_to_value.write(0)
        await fields.motor_is_moving.write(1)
        t0 = time.monotonic()
        final = value
        while True:
            # Always at least one tick, so DMOV=0 is seen even for a zero-length move.
            await asyncio.sleep(self.tick_s)
            if self._move_id != move_id:
                raise SkipWrite()  # retargeted: the newer put owns DMOV and .VAL
            elapsed = time.monotonic() - t0
            if self._stop_requested:
                final = self.position
                break
            if elapsed >= duration:
                break
            await self._publish_position(fields, start + distance * elapsed / duration)
        await self._publish_position(fields, final)
        await fields.motor_is_moving.write(0)
        self._moving = False
        self._stop_requested = False
        await fields.done_moving_to_value.write(1)
        return final

    @motor.fields.stop.putter
    async def motor(fields, instance, value: int) -> int:
        group = fields.parent.group
        if value and group._moving:
            group._stop_requested = True
        return 0  # momentary: never latches

    @motor.fields.user_high_limit.putter
    async def motor(fields, instance, value: float) -> float:
        await _set_limits(fields, fields.user_low_limit.value, float(value))
        return float(value)

    @motor.fields.user_low_limit.putter
    async def motor(fields, instance, value: float) -> float:
        await _set_limits(fields, float(value), fields.user_high_limit.value)
        return float(value)

    async def _publish_position(self, fields, position: float) -> None:
        ts = time.time()
        await fields.user_readback_value.write(position, timestamp=ts)
        await fields.dial_readback_value.write(position, timestamp=ts)
        await fields.raw_readback_value.write(round(position / 1e-6), timestamp=ts)


async def _set_limits(fields, low: float, high: float) -> None:
    """Mirror soft limits to the dial limits and to .VAL's control/display limits."""
    await fields.dial_low_limit.write(low, verify_value=False)
    await fields.dial_high_limit.write(high, verify_value=False)
    await fields.parent.write_metadata(
        lower_ctrl_limit=low, upper_ctrl_limit=high, lower_disp_limit=low, upper_disp_limit=high
    )
