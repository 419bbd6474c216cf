"""The beamline session's configuration: end stations, training, catalog.

Read from a small TOML file (``profile_collection/beamline.toml``) and then from
environment variables, which win. Everything is checked when it is read, so a
typo fails at start-up with a message naming the key, not in the middle of a
run. Nothing here imports ophyd or caproto: the profile reads the configuration
*before* it decides whether Channel Access must stay on loopback.

Environment variables
---------------------
``GPSTEER_BEAMLINE_CONFIG``
    Path of the TOML file (default: ``beamline.toml`` in the profile directory).
``GPSTEER_STATIONS``
    Comma-separated end stations, replacing the file's list: ``KIND`` for a
    simulated one (``saxs,ir``), ``KIND=PREFIX`` for real hardware
    (``saxs=XF:12ID2-ES{SAXS}:``). Kinds: ``saxs``, ``arpes``, ``ir``.
``GPSTEER_TRAINING``
    ``dask`` (an embedded LocalCluster, the default), ``inline``, or a Dask
    scheduler address (``tcp://10.0.0.5:8786``).
``GPSTEER_CATALOG_URI``, ``GPSTEER_CATALOG_API_KEY``
    A tiled server to store runs in, instead of the embedded catalog (whose
    directory follows ``GPSTEER_DATA_DIR``, see :func:`gpsteer.catalog.open_catalog`).
``GPSTEER_SIM_SEED``, ``GPSTEER_SIM_VELOCITY``
    Hidden-sample seed and motor speed (mm/s) of the simulated stations.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gpsteer.devices.stations import STATIONS, station_info
from gpsteer.errors import ConfigurationError

__all__ = ["BeamlineConfig", "StationConfig", "load_config", "parse_stations"]

_TOP_KEYS = {"stations", "simulation", "training", "catalog"}
_STATION_KEYS = {"simulated", "prefix", "port"}
_SIMULATION_KEYS = {"seed", "velocity"}
_TRAINING_KEYS = {"backend"}
_CATALOG_KEYS = {"directory", "uri"}


@dataclass(frozen=True)
class StationConfig:
    """One end station of the session.

    Attributes
    ----------
    kind : str
        ``"saxs"``, ``"arpes"`` or ``"ir"``.
    simulated : bool
        Serve it with a simulated IOC (True) or connect to real hardware.
    prefix : str or None
        PV prefix. Real hardware: required. Simulated: with ``port``, an IOC
        already serving this prefix there is used (and left running at exit),
        otherwise one is started there; None starts one with a unique prefix.
    port : int or None
        Simulated only: the CA port on 127.0.0.1 (None: a free port).
    """

    kind: str
    simulated: bool = True
    prefix: str | None = None
    port: int | None = None

    def __post_init__(self) -> None:
        station_info(self.kind)  # an unknown kind: the error lists the known ones
        if not self.simulated and not self.prefix:
            raise ConfigurationError(
                f"the real {self.kind} end station needs its PV prefix: set prefix = "
                f'"..." under [stations.{self.kind}] or GPSTEER_STATIONS={self.kind}=PREFIX'
            )
        if not self.simulated and self.port is not None:
            raise ConfigurationError(
                f"port is for simulated stations only; the real {self.kind} end station is "
                "found through the beamline's EPICS environment (EPICS_CA_ADDR_LIST)"
            )
        if self.port is not None and not 0 < int(self.port) < 65536:
            raise ConfigurationError(f"port must be in 1..65535, got {self.port!r}")


@dataclass(frozen=True)
class BeamlineConfig:
    """Everything the beamline profile sets up (see the module docstring for the sources).

    Attributes
    ----------
    stations : tuple of StationConfig
        The end stations, in order; all simulated or all real.
    seed : int
        Hidden-sample seed of the simulated stations.
    velocity : float
        Motor speed of the simulated stations, mm/s.
    training : str
        ``"dask"``, ``"inline"`` or a scheduler address.
    catalog_directory, catalog_uri, catalog_api_key : str or None
        Where runs are stored: an embedded catalog directory (None: the default
        one), or a tiled server URI (and its API key).
    source : str or None
        The file the configuration was read from.
    """

    stations: tuple[StationConfig, ...] = field(
        default_factory=lambda: tuple(StationConfig(kind) for kind in STATIONS)
    )
    seed: int = 0
    velocity: float = 25.0
    training: str = "dask"
    catalog_directory: str | None = None
    catalog_uri: str | None = None
    catalog_api_key: str | None = field(default=None, repr=False)
    source: str | None = None

    def __post_init__(self) -> None:
        kinds = [s.kind for s in self.stations]
        if len(set(kinds)) != len(kinds):
            raise ConfigurationError(f"an end station is listed twice: {kinds}")
        if len({s.simulated for s in self.stations}) > 1:
            raise ConfigurationError(
                "mixing simulated and real end stations in one session is not supported: "
                "the simulation keeps Channel Access on loopback, which hides real PVs. "
                "Make them all simulated or all real"
            )
        if not self.velocity > 0:
            raise ConfigurationError(f"velocity must be > 0 mm/s, got {self.velocity!r}")
        if self.training not in ("dask", "inline") and "://" not in self.training:
            raise ConfigurationError(
                f"training must be 'dask', 'inline' or a scheduler address such as "
                f"'tcp://10.0.0.5:8786'; got {self.training!r}"
            )
        if self.catalog_directory is not None and self.catalog_uri is not None:
            raise ConfigurationError(
                "give either a catalog directory or a catalog uri (a tiled server), not both"
            )

    @property
    def simulated(self) -> bool:
        """Whether the session runs on simulated end stations (then CA stays on loopback)."""
        return all(s.simulated for s in self.stations)


def parse_stations(text: str) -> tuple[StationConfig, ...]:
    """Parse ``GPSTEER_STATIONS``: ``"saxs,ir"`` or ``"saxs=XF:12ID2-ES{SAXS}:"``."""
    stations = []
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        kind, sep, prefix = entry.partition("=")
        kind, prefix = kind.strip(), prefix.strip()
        if sep and not prefix:
            raise ConfigurationError(
                f"GPSTEER_STATIONS entry {entry!r} has an empty prefix; write KIND for a "
                "simulated station or KIND=PREFIX for real hardware"
            )
        stations.append(StationConfig(kind, simulated=not sep, prefix=prefix or None))
    if not stations:
        raise ConfigurationError("GPSTEER_STATIONS is empty; name at least one end station")
    return tuple(stations)


def _check_keys(table: Any, known: set[str], where: str) -> Mapping[str, Any]:
    if not isinstance(table, Mapping):
        raise ConfigurationError(f"{where} must be a table, got {table!r}")
    unknown = set(table) - known
    if unknown:
        raise ConfigurationError(
            f"unknown key(s) {sorted(unknown)} in {where}; known keys: {sorted(known)}"
        )
    return table


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            raise ConfigurationError(
                f"reading {path} needs Python 3.11 or the tomli package (pip install tomli); "
                "or configure the session with GPSTEER_* environment variables"
            ) from None
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ConfigurationError(f"cannot read the beamline configuration {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path} is not valid TOML: {exc}") from exc


def _from_table(data: Mapping[str, Any], source: str | None) -> BeamlineConfig:
    _check_keys(data, _TOP_KEYS, "the configuration")
    config = BeamlineConfig(source=source)
    if "stations" in data:
        tables = _check_keys(data["stations"], set(STATIONS), "[stations]")
        stations = []
        for kind, table in tables.items():
            table = _check_keys(table, _STATION_KEYS, f"[stations.{kind}]")
            port = table.get("port")
            stations.append(
                StationConfig(
                    kind,
                    simulated=bool(table.get("simulated", True)),
                    prefix=table.get("prefix"),
                    port=None if port is None else int(port),
                )
            )
        config = replace(config, stations=tuple(stations))
    sim = _check_keys(data.get("simulation", {}), _SIMULATION_KEYS, "[simulation]")
    training = _check_keys(data.get("training", {}), _TRAINING_KEYS, "[training]")
    catalog = _check_keys(data.get("catalog", {}), _CATALOG_KEYS, "[catalog]")
    return replace(
        config,
        seed=int(sim.get("seed", config.seed)),
        velocity=float(sim.get("velocity", config.velocity)),
        training=str(training.get("backend", config.training)),
        catalog_directory=catalog.get("directory"),
        catalog_uri=catalog.get("uri"),
    )


def _number(environ: Mapping[str, str], name: str, kind: type) -> Any:
    text = environ[name]
    try:
        return kind(text)
    except ValueError:
        raise ConfigurationError(
            f"{name}={text!r} is not a{'n integer' if kind is int else ' number'}"
        ) from None


def load_config(
    path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> BeamlineConfig:
    """Read the configuration: defaults, then the TOML file, then the environment.

    Parameters
    ----------
    path : path, optional
        The TOML file; ``$GPSTEER_BEAMLINE_CONFIG`` wins over it. A missing
        default file is fine (defaults: the three simulated end stations);
        a file named by the variable must exist.
    environ : mapping, optional
        The environment (default ``os.environ``), for tests.

    Raises
    ------
    ConfigurationError, UnknownNameError
        With the key or variable to fix.
    """
    environ = os.environ if environ is None else environ
    named = environ.get("GPSTEER_BEAMLINE_CONFIG")
    chosen = Path(named).expanduser() if named else (Path(path) if path is not None else None)
    if chosen is not None and (named or chosen.exists()):
        config = _from_table(_read_toml(chosen), str(chosen))
    else:
        config = BeamlineConfig()
    changes: dict[str, Any] = {}
    if environ.get("GPSTEER_STATIONS"):
        changes["stations"] = parse_stations(environ["GPSTEER_STATIONS"])
    if environ.get("GPSTEER_TRAINING"):
        changes["training"] = environ["GPSTEER_TRAINING"].strip()
    if environ.get("GPSTEER_SIM_SEED"):
        changes["seed"] = _number(environ, "GPSTEER_SIM_SEED", int)
    if environ.get("GPSTEER_SIM_VELOCITY"):
        changes["velocity"] = _number(environ, "GPSTEER_SIM_VELOCITY", float)
    if environ.get("GPSTEER_CATALOG_URI"):
        changes["catalog_uri"] = environ["GPSTEER_CATALOG_URI"]
        changes["catalog_directory"] = None
    if environ.get("GPSTEER_CATALOG_API_KEY"):
        changes["catalog_api_key"] = environ["GPSTEER_CATALOG_API_KEY"]
    return replace(config, **changes)
