"""The ``runs`` and ``replay`` subcommands parse what the docs show."""

from __future__ import annotations

import argparse

import pytest

from gpsteer.cli import runs as replay_cli


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gpsteer")
    replay_cli.add_parser(parser.add_subparsers(dest="command"))
    return parser


def test_replay_takes_a_run_an_output_and_a_decision() -> None:
    args = _parser().parse_args(["replay", "-1", "--out", "m.png", "--upto", "20"])
    assert args.command == "replay" and args.run == "-1"
    assert args.out == "m.png" and args.upto == 20 and args.grid == 60
    assert callable(args.handler)


def test_runs_lists_with_a_limit_from_a_catalog_directory() -> None:
    args = _parser().parse_args(["runs", "--catalog", "/tmp/x", "--limit", "3"])
    assert (args.catalog, args.uri, args.limit, args.gpsteer_only) == ("/tmp/x", None, 3, False)


def test_catalog_and_uri_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args(["runs", "--catalog", "d", "--uri", "http://x"])
    assert "not allowed with" in capsys.readouterr().err


@pytest.mark.parametrize(("text", "key"), [("-1", -1), ("12", 12), ("3f2a9c1e", "3f2a9c1e")])
def test_run_keys_are_indexes_scan_ids_or_uids(text: str, key: object) -> None:
    assert replay_cli.run_key(text) == key


def test_watch_follows_the_next_run_or_a_named_one() -> None:
    from gpsteer.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["watch"])
    assert args.run is None and args.interval == 1.0 and args.timeout == 24 * 3600.0
    args = parser.parse_args(["watch", "-1", "--catalog", "d", "--interval", "0.5"])
    assert (args.run, args.catalog, args.interval) == ("-1", "d", 0.5)


@pytest.mark.parametrize("option", [["--interval", "0"], ["--timeout", "-3"]])
def test_watch_refuses_waits_that_are_not_positive(
    option: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from gpsteer.cli import main

    assert main(["watch", *option]) == 2
    assert "must be positive" in capsys.readouterr().err
