"""The loopback-only EPICS environment (pure; no sockets except the port finder)."""

from __future__ import annotations

import socket

import pytest

from gpsteer.errors import ConfigurationError
from gpsteer.sim_devices import loopback

REQUIRED = {
    "EPICS_CA_AUTO_ADDR_LIST",
    "EPICS_CA_ADDR_LIST",
    "EPICS_CAS_INTF_ADDR_LIST",
    "EPICS_CA_SERVER_PORT",
    "EPICS_CAS_AUTO_BEACON_ADDR_LIST",
    "EPICS_CAS_BEACON_ADDR_LIST",
    "EPICS_CA_REPEATER_PORT",
    "CAPROTO_CLIENT_MAX_RETRY_SEARCHES_INTERVAL_SEC",
}


def test_free_port_is_free_for_tcp_and_udp():
    port = loopback.find_free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
        tcp.bind(("127.0.0.1", port))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", port))


def test_loopback_env_sets_every_variable_to_loopback_values():
    env = loopback.loopback_env([5001, 5002], server_port=5000, repeater_port=6000)
    assert REQUIRED <= set(env)
    assert all(env[key] for key in REQUIRED), "no variable may be empty (empty = broadcast)"
    assert env["EPICS_CA_AUTO_ADDR_LIST"] == "NO"
    assert env["EPICS_CA_ADDR_LIST"].split() == [
        "127.0.0.1:5000",
        "127.0.0.1:5001",
        "127.0.0.1:5002",
    ]
    assert env["EPICS_CAS_INTF_ADDR_LIST"] == "127.0.0.1"
    assert env["EPICS_CA_SERVER_PORT"] == "5000"
    assert env["EPICS_CAS_AUTO_BEACON_ADDR_LIST"] == "NO"
    assert env["EPICS_CAS_BEACON_ADDR_LIST"] == "127.255.255.255"
    assert env["EPICS_CA_REPEATER_PORT"] == "6000"
    assert float(env["CAPROTO_CLIENT_MAX_RETRY_SEARCHES_INTERVAL_SEC"]) == 0.25


def test_client_env_refuses_an_empty_address_list():
    with pytest.raises(ConfigurationError, match="broadcast"):
        loopback.client_env([])


def test_apply_keeps_explicit_choices_but_forces_no_auto_addr_list():
    environ = {"EPICS_CA_SERVER_PORT": "5999", "EPICS_CA_AUTO_ADDR_LIST": "YES"}
    applied = loopback.apply_loopback_env([7001], environ=environ)
    assert environ["EPICS_CA_SERVER_PORT"] == "5999"
    assert environ["EPICS_CA_AUTO_ADDR_LIST"] == "NO"
    assert "127.0.0.1:7001" in environ["EPICS_CA_ADDR_LIST"].split()
    assert REQUIRED <= set(applied)


def test_apply_rejects_a_non_loopback_address_list():
    environ = {"EPICS_CA_ADDR_LIST": "10.0.0.5"}
    with pytest.raises(ConfigurationError, match="not a loopback"):
        loopback.apply_loopback_env(environ=environ)
    # override=True replaces it with loopback entries
    loopback.apply_loopback_env(environ=environ, override=True)
    assert all(e.startswith("127.") for e in environ["EPICS_CA_ADDR_LIST"].split())


def test_add_and_remove_client_address_never_empty_the_list():
    environ = {"EPICS_CA_SERVER_PORT": "5064"}
    loopback.add_client_address(7002, environ=environ)
    loopback.add_client_address(7002, environ=environ)
    assert environ["EPICS_CA_ADDR_LIST"] == "127.0.0.1:7002"
    loopback.remove_client_address(7002, environ=environ)
    assert environ["EPICS_CA_ADDR_LIST"] == "127.0.0.1:5064"
