"""Keep Channel Access on the loopback interface.

Only 127.0.0.1 is reachable on the machines gpsteer is tested on, and a simulated
beamline must never answer (or search) on a real facility network. Channel Access
decides where to search and where to listen from environment variables, so the
whole policy is a set of variables:

=======================================================  =========================================
``EPICS_CA_AUTO_ADDR_LIST=NO``                           no broadcast search on every interface
``EPICS_CA_ADDR_LIST="127.0.0.1:<port> ..."``            one entry per IOC (each IOC has its port)
``EPICS_CAS_INTF_ADDR_LIST=127.0.0.1``                   servers bind to loopback only
``EPICS_CA_SERVER_PORT=<port>``                          the port a server listens on
``EPICS_CAS_AUTO_BEACON_ADDR_LIST=NO``                   no beacons to every interface
``EPICS_CAS_BEACON_ADDR_LIST=127.255.255.255``           beacons stay on loopback
``EPICS_CA_REPEATER_PORT=<free port>``                   never collide with a site repeater
``CAPROTO_CLIENT_MAX_RETRY_SEARCHES_INTERVAL_SEC=0.25``  fast re-search (read at import)
=======================================================  =========================================

If either address list is empty caproto falls back to broadcast and the server
binds 0.0.0.0, so neither is ever left empty here.

.. important::
   Call :func:`apply_loopback_env` **before** ``ophyd`` or ``caproto``'s client is
   imported: caproto reads ``CAPROTO_CLIENT_MAX_RETRY_SEARCHES_INTERVAL_SEC`` once,
   at import. (The address list itself is re-read at every search, so IOC ports
   can be added later with :func:`add_client_address`.)

This module imports nothing from caproto or ophyd, so importing it is always safe.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Mapping, MutableMapping

from gpsteer.errors import ConfigurationError

__all__ = [
    "LOOPBACK",
    "add_client_address",
    "apply_loopback_env",
    "client_env",
    "find_free_port",
    "loopback_env",
    "remove_client_address",
    "server_env",
]

LOOPBACK = "127.0.0.1"
_BEACON_ADDR = "127.255.255.255"
_MAX_ARRAY_BYTES = str(16 * 1024 * 1024)


def find_free_port(host: str = LOOPBACK) -> int:
    """Return a port that is free for both TCP and UDP on ``host``.

    A CA server listens on the same number for TCP (circuits) and UDP (searches),
    so both must be free. The port is not reserved: start the server soon after.
    """
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((host, 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((host, port))
                except OSError:
                    continue
            return int(port)
    raise ConfigurationError(
        f"found no port free for both TCP and UDP on {host} after 50 tries; "
        "free some ports or pass an explicit port"
    )


def _address_entries(ports: Iterable[int]) -> str:
    return " ".join(f"{LOOPBACK}:{int(p)}" for p in ports)


def client_env(ports: Iterable[int], repeater_port: int | None = None) -> dict[str, str]:
    """Environment a CA *client* needs to find the IOCs listening on ``ports``.

    Parameters
    ----------
    ports
        One server port per IOC; each becomes a ``127.0.0.1:<port>`` search entry.
    repeater_port
        Port of the (unused) CA repeater; a fresh free port when ``None``.
    """
    ports = list(ports)
    if not ports:
        raise ConfigurationError(
            "client_env needs at least one IOC port: an empty EPICS_CA_ADDR_LIST makes "
            "caproto broadcast on every interface"
        )
    return {
        "EPICS_CA_AUTO_ADDR_LIST": "NO",
        "EPICS_CA_ADDR_LIST": _address_entries(ports),
        "EPICS_CA_REPEATER_PORT": str(repeater_port or find_free_port()),
        "EPICS_CA_MAX_ARRAY_BYTES": _MAX_ARRAY_BYTES,
        "CAPROTO_CLIENT_MAX_RETRY_SEARCHES_INTERVAL_SEC": "0.25",
    }


def server_env(port: int, repeater_port: int | None = None) -> dict[str, str]:
    """Environment a caproto *server* needs to listen on loopback ``port`` only."""
    env = client_env([port], repeater_port)
    env.update(
        {
            "EPICS_CA_SERVER_PORT": str(int(port)),
            "EPICS_CAS_SERVER_PORT": str(int(port)),
            "EPICS_CAS_INTF_ADDR_LIST": LOOPBACK,
            "EPICS_CAS_AUTO_BEACON_ADDR_LIST": "NO",
            "EPICS_CAS_BEACON_ADDR_LIST": _BEACON_ADDR,
            "EPICS_CAS_BEACON_PORT": env["EPICS_CA_REPEATER_PORT"],
        }
    )
    return env


def loopback_env(
    ports: Iterable[int] = (), *, server_port: int | None = None, repeater_port: int | None = None
) -> dict[str, str]:
    """The full loopback-only environment, for a process that may be client and server.

    Parameters
    ----------
    ports
        Ports of IOCs to search (client side). ``server_port`` is added to them.
    server_port
        Port this process would serve on; a fresh free port when ``None``, so that
        no variable is left empty.
    repeater_port
        CA repeater/beacon port; a fresh free port when ``None``.
    """
    server_port = int(server_port) if server_port is not None else find_free_port()
    all_ports = [server_port, *[int(p) for p in ports if int(p) != server_port]]
    env = server_env(server_port, repeater_port)
    env["EPICS_CA_ADDR_LIST"] = _address_entries(all_ports)
    return env


def apply_loopback_env(
    ports: Iterable[int] = (),
    *,
    environ: MutableMapping[str, str] | None = None,
    override: bool = False,
) -> dict[str, str]:
    """Put the loopback-only variables into ``environ`` (default ``os.environ``).

    Call it before importing ``ophyd`` or ``caproto``'s client. Variables already
    set are kept unless ``override`` (so a caller's explicit choice wins), except
    that ``EPICS_CA_AUTO_ADDR_LIST`` is always ``NO`` and the IOC ``ports`` are
    always added to ``EPICS_CA_ADDR_LIST``. Returns the variables now in effect.
    """
    environ = os.environ if environ is None else environ
    wanted = loopback_env(
        ports,
        server_port=_int_or_none(environ.get("EPICS_CA_SERVER_PORT")) if not override else None,
    )
    for key, value in wanted.items():
        if override or not environ.get(key):
            environ[key] = value
    environ["EPICS_CA_AUTO_ADDR_LIST"] = "NO"
    for port in ports:
        add_client_address(port, environ=environ)
    _check_loopback(environ)
    return {key: environ[key] for key in wanted}


def add_client_address(port: int, *, environ: MutableMapping[str, str] | None = None) -> None:
    """Add ``127.0.0.1:<port>`` to ``EPICS_CA_ADDR_LIST`` (read at every CA search)."""
    environ = os.environ if environ is None else environ
    entry = f"{LOOPBACK}:{int(port)}"
    entries = environ.get("EPICS_CA_ADDR_LIST", "").split()
    if entry not in entries:
        environ["EPICS_CA_ADDR_LIST"] = " ".join([*entries, entry])


def remove_client_address(port: int, *, environ: MutableMapping[str, str] | None = None) -> None:
    """Remove ``127.0.0.1:<port>`` from ``EPICS_CA_ADDR_LIST``, never emptying it."""
    environ = os.environ if environ is None else environ
    entry = f"{LOOPBACK}:{int(port)}"
    entries = [e for e in environ.get("EPICS_CA_ADDR_LIST", "").split() if e != entry]
    # An empty list would mean "broadcast": keep the server's own port instead.
    fallback = f"{LOOPBACK}:{environ.get('EPICS_CA_SERVER_PORT', '5064')}"
    environ["EPICS_CA_ADDR_LIST"] = " ".join(entries) if entries else fallback


def _check_loopback(environ: Mapping[str, str]) -> None:
    for entry in environ.get("EPICS_CA_ADDR_LIST", "").split():
        host = entry.split(":")[0]
        if not host.startswith("127."):
            raise ConfigurationError(
                f"EPICS_CA_ADDR_LIST holds {entry!r}, which is not a loopback address; "
                "gpsteer's simulated beamline only talks to 127.0.0.1 — unset it or "
                "call apply_loopback_env(override=True)"
            )
    for host in environ.get("EPICS_CAS_INTF_ADDR_LIST", "").split():
        if not host.startswith("127."):
            raise ConfigurationError(
                f"EPICS_CAS_INTF_ADDR_LIST holds {host!r}, not a loopback address; "
                "unset it or call apply_loopback_env(override=True)"
            )


def _int_or_none(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None
