"""End stations for a session: simulated IOCs started (or found) and connected, or real PVs.

:class:`Beamline` is what the demo and the beamline profile hold: one
:class:`Station` per end station (an ophyd ``XYStage`` and detector), and the
IOC processes it started, which :meth:`Beamline.close` stops (and an ``atexit``
hook of :mod:`gpsteer.sim_devices.launcher` stops at the latest).

>>> from gpsteer.session.beamline import Beamline                    # doctest: +SKIP
>>> with Beamline.simulated(["saxs"], seed=0) as beamline:         # doctest: +SKIP
...     station = beamline["saxs"]
...     RE(autonomous_plan([station.detector], station.space(), target=station.target, ...))

Simulated stations keep Channel Access on 127.0.0.1
(:func:`~gpsteer.sim_devices.loopback.apply_loopback_env`, applied before ophyd
is imported here); real ones use the beamline's EPICS environment as it is.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from gpsteer.devices.stations import StationInfo, station_info
from gpsteer.errors import ConfigurationError, DeviceError, UnknownNameError
from gpsteer.session.config import BeamlineConfig, StationConfig
from gpsteer.sim_devices.samples import SAMPLE_BOUNDS

__all__ = ["Beamline", "Station", "ioc_answers"]


@dataclass
class Station:
    """One connected end station.

    Attributes
    ----------
    kind : str
        ``"saxs"``, ``"arpes"`` or ``"ir"``.
    prefix : str
        Its PV prefix.
    stage : XYStage
        The sample stage (``stage.x``, ``stage.y``), named ``<kind>_stage``.
    detector : ReducingDetector
        The detector, named ``<kind>`` (event fields ``<kind>_q0``, ...).
    simulated : bool
        Served by a simulated IOC.
    port : int or None
        The simulated IOC's CA port on 127.0.0.1.
    seed : int or None
        The simulated IOC's hidden-sample seed.
    started : bool
        This session started the IOC (and stops it on close).
    process : IocProcess or None
        The IOC process this session started (``process.handle.pid``, ...).
    """

    kind: str
    prefix: str
    stage: Any
    detector: Any
    simulated: bool
    port: int | None = None
    seed: int | None = None
    started: bool = False
    process: Any = field(default=None, repr=False)

    @property
    def info(self) -> StationInfo:
        """Its default target and what that measures (:mod:`gpsteer.devices.stations`)."""
        return station_info(self.kind)

    @property
    def target(self) -> tuple[str, str]:
        """The default mapping target: an event field and its variance field."""
        return self.info.target

    def space(
        self, bounds: Iterable[tuple[float, float]] = SAMPLE_BOUNDS
    ) -> dict[Any, tuple[float, float]]:
        """``{stage.x: (lo, hi), stage.y: (lo, hi)}`` for ``autonomous_plan``.

        Default: the simulated samples' area, x and y in [-5, 5] mm.
        """
        (xlo, xhi), (ylo, yhi) = bounds
        return {self.stage.x: (float(xlo), float(xhi)), self.stage.y: (float(ylo), float(yhi))}

    def sample(self) -> Any:
        """The hidden sample of a simulated station (ground truth; never over CA)."""
        if not self.simulated or self.seed is None:
            raise ConfigurationError(
                f"the {self.kind} end station at {self.prefix!r} is real hardware: it has no "
                "hidden sample to compare with"
            )
        from gpsteer.sim_devices.samples import make_sample

        return make_sample(self.kind, self.seed)


def ioc_answers(prefix: str, port: int, timeout: float = 1.0) -> bool:
    """Whether an IOC serves ``<prefix>x.RBV`` on 127.0.0.1:``port`` (adds the port to the
    address list of this process, which finding it needs)."""
    from gpsteer.sim_devices.loopback import add_client_address, apply_loopback_env

    apply_loopback_env()
    add_client_address(port)
    from caproto.sync.client import read  # after the environment is set

    try:
        read(f"{prefix}x.RBV", timeout=timeout, repeater=False)
    except (TimeoutError, OSError):
        return False
    return True


class Beamline:
    """The end stations of a session, and the simulated IOCs it started.

    Build it with :meth:`simulated` or :meth:`from_config`; index it by kind
    (``beamline["saxs"]``). :meth:`close` (or leaving a ``with`` block) stops the
    IOCs this session started; IOCs it found running are left alone.
    """

    def __init__(self, stations: Iterable[Station] = ()) -> None:
        self.stations: dict[str, Station] = {s.kind: s for s in stations}
        #: Stations that could not be started or connected (``skip_failed=True``): why.
        self.failed: dict[str, str] = {}
        self._lock = threading.Lock()
        self._closed = False

    # ------------------------------------------------------------------ building
    @classmethod
    def simulated(
        cls,
        kinds: Iterable[str] = ("saxs", "arpes", "ir"),
        *,
        seed: int = 0,
        velocity: float = 25.0,
        connect_timeout: float = 15.0,
    ) -> Beamline:
        """Start one simulated IOC per kind (free ports, unique prefixes) and connect to it.

        ``velocity`` is the motor speed in mm/s.
        """
        configs = [StationConfig(kind) for kind in kinds]
        return cls.from_config(
            BeamlineConfig(stations=tuple(configs), seed=seed, velocity=velocity),
            connect_timeout=connect_timeout,
        )

    @classmethod
    def from_config(
        cls, config: BeamlineConfig, *, connect_timeout: float = 15.0, skip_failed: bool = False
    ) -> Beamline:
        """Start or find the configured stations and connect to them.

        If connecting one fails, the IOCs already started are stopped before the
        error propagates; with ``skip_failed=True`` (the beamline profile) the others
        are kept, and :attr:`failed` says which failed and why (:meth:`describe_failed`).
        """
        if config.simulated:
            from gpsteer.sim_devices.loopback import apply_loopback_env

            apply_loopback_env()  # before ophyd is imported below
        beamline = cls()
        try:
            for station in config.stations:
                try:
                    beamline._add(station, config, connect_timeout)
                except Exception as exc:
                    if not skip_failed:
                        raise
                    beamline._drop(station.kind, exc)
        except BaseException:
            beamline.close()
            raise
        return beamline

    def _drop(self, kind: str, exc: Exception) -> None:
        """Forget a station that failed to start or connect; stop its IOC if we started it."""
        station = self.stations.pop(kind, None)
        if station is not None and station.process is not None:
            with contextlib.suppress(Exception):
                station.process.stop()
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        self.failed[kind] = f"{type(exc).__name__}: {first_line}"[:300]

    def describe_failed(self) -> str:
        """One line naming the stations that did not connect and why ("" if none)."""
        if not self.failed:
            return ""
        parts = "; ".join(f"{kind} ({why})" for kind, why in self.failed.items())
        return f"not connected, left out of this session: {parts}"

    def _add(self, cfg: StationConfig, config: BeamlineConfig, timeout: float) -> None:
        from gpsteer.devices.end_stations import end_station

        if not cfg.simulated:
            assert cfg.prefix is not None  # StationConfig checks it
            stage, detector = end_station(cfg.kind, cfg.prefix, timeout=timeout)
            self.stations[cfg.kind] = Station(cfg.kind, cfg.prefix, stage, detector, False)
            return
        process, prefix, port = None, cfg.prefix, cfg.port
        if not (prefix and port is not None and ioc_answers(prefix, port)):
            from gpsteer.sim_devices.launcher import start_ioc

            process = start_ioc(
                cfg.kind, prefix=prefix, port=port, seed=config.seed, velocity=config.velocity
            )
            prefix, port = process.handle.prefix, process.handle.port
        station = Station(
            cfg.kind,
            prefix,
            None,
            None,
            True,
            port=port,
            seed=config.seed,
            started=process is not None,
            process=process,
        )
        self.stations[cfg.kind] = station  # registered first: close() stops it on failure
        station.stage, station.detector = end_station(cfg.kind, prefix, timeout=timeout)

    # ------------------------------------------------------------------ use
    def __getitem__(self, kind: str) -> Station:
        try:
            return self.stations[kind]
        except KeyError:
            raise UnknownNameError(
                f"no {kind!r} end station in this session; it has {sorted(self.stations)}"
            ) from None

    def __iter__(self) -> Iterator[Station]:
        return iter(self.stations.values())

    def __len__(self) -> int:
        return len(self.stations)

    def processes(self) -> list[Any]:
        """The IOC processes this session started (``IocProcess``), still running or not."""
        return [s.process for s in self.stations.values() if s.process is not None]

    def describe(self) -> str:
        """One line per station: kind, prefix, where it is served, and by whom."""
        lines = []
        for s in self.stations.values():
            if not s.simulated:
                where = "real hardware"
            elif s.started:
                where = f"simulated IOC pid {s.process.handle.pid} on 127.0.0.1:{s.port}"
            else:
                where = f"simulated IOC found running on 127.0.0.1:{s.port}"
            lines.append(f"{s.kind:6s} {s.prefix:28s} {where}")
        return "\n".join(lines)

    def close(self) -> None:
        """Stop the IOCs this session started (idempotent); raise if one would not stop."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        failures = []
        for station in self.stations.values():
            process = station.process
            if process is None:
                continue
            with contextlib.suppress(Exception):
                station.stage.destroy()
                station.detector.destroy()
            process.stop()
            if process.running:
                failures.append(process.handle)
        if failures:
            raise DeviceError(f"IOC processes did not stop: {failures}")

    def __enter__(self) -> Beamline:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
