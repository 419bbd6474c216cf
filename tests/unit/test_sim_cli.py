"""The ``gpsteer`` command line (parsing only; no IOC is served here)."""

from __future__ import annotations

import pytest

from gpsteer import cli


def test_no_command_prints_help_and_fails(capsys):
    assert cli.main([]) == 2
    assert "sim" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("kind", "pv"),
    [("saxs", "cam1:Acquire"), ("arpes", "analyser:EnergyAxis"), ("ir", "spec:Wavenumber")],
)
def test_sim_help_lists_the_pvs(kind, pv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["sim", kind, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert f"gpsteer sim {kind}" in out
    assert pv in out and "--seed" in out and "--port" in out


@pytest.mark.parametrize(
    ("kind", "pv"),
    [("saxs", "sim:saxs:cam1:Acquire"), ("arpes", "sim:arpes:x"), ("ir", "sim:ir:spec:Spectrum")],
)
def test_sim_list_pvs_prints_the_names_and_returns(kind, pv, capsys):
    """The README's ``gpsteer sim saxs --list-pvs`` lists and exits; it serves nothing."""
    assert cli.main(["sim", kind, "--list-pvs"]) == 0  # returns: no server was started
    lines = capsys.readouterr().out.splitlines()
    assert any(line.split()[0] == pv for line in lines), lines
    motor = next(line for line in lines if line.split()[0] == f"sim:{kind}:x")
    assert "motor record" in motor


def test_sim_refuses_non_loopback_interfaces(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["sim", "ir", "--interfaces", "0.0.0.0"])
    assert exit_info.value.code == 2
    assert "loopback only" in capsys.readouterr().err


def test_sim_rejects_unknown_kind(capsys):
    with pytest.raises(SystemExit):
        cli.main(["sim", "xps"])
    assert "invalid choice" in capsys.readouterr().err


def test_subcommands_are_extensible():
    def add_hello(subparsers):
        parser = subparsers.add_parser("hello")
        parser.set_defaults(handler=lambda args: 7)

    cli.SUBCOMMANDS.append(add_hello)
    try:
        assert cli.main(["hello"]) == 7
    finally:
        cli.SUBCOMMANDS.remove(add_hello)
