"""Replay and resume of stored autonomous runs, with a real RunEngine, ophyd.sim devices and
the embedded catalog; and the ``gpsteer runs`` / ``gpsteer replay`` commands.

"Reproduces the posterior" means: the model rebuilt from the stored documents predicts,
at each recorded decision's point, the recorded mean and standard deviation to 1e-8.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import bluesky.plans as bp
import numpy as np
import pytest
from bluesky import RunEngine
from ophyd.sim import SynSignal, motor1, motor2

from gpsteer import Agent
from gpsteer.acquisition import OptimizerSettings
from gpsteer.agent import TrainingSchedule
from gpsteer.catalog import Catalog, open_catalog, read_decisions, replay
from gpsteer.cli import runs as replay_cli
from gpsteer.cli import watch as watch_cli
from gpsteer.errors import ConfigurationError, InputError
from gpsteer.plans import autonomous_plan, resume_plan

pytestmark = pytest.mark.system

BOUNDS = [(-2.0, 2.0), (-1.5, 1.5)]
SPACE = {motor1: BOUNDS[0], motor2: BOUNDS[1]}
TOL = 1e-8


def field(x: float, y: float) -> float:
    return float(np.sin(1.3 * x) * np.cos(2.0 * y) + 0.2 * x * y)


det2d = SynSignal(func=lambda: field(motor1.position, motor2.position), name="det2d")
# The same field behind a 0.2 s exposure: a run that lasts long enough to be watched.
slow_det = SynSignal(
    func=lambda: field(motor1.position, motor2.position), name="slow_det", exposure_time=0.2
)
# A spectrum whose mean follows the field: an array reading that needs a reduction.
_channels = np.linspace(-1.0, 1.0, 32)
spectrum = SynSignal(
    func=lambda: field(motor1.position, motor2.position) + 0.05 * _channels, name="spectrum"
)


def reduce_spectrum(readings: Mapping[str, Any]) -> tuple[float, float]:
    """Mean of the spectrum and the variance of that mean (module level: importable)."""
    values = np.asarray(readings["spectrum"], dtype=np.float64)
    return float(values.mean()), float(values.var() / values.size + 1e-6)


def fast_agent(**kwargs: Any) -> Agent:
    return Agent(
        bounds=BOUNDS,
        seed=1,
        optimizer=OptimizerSettings(n_candidates=64, n_starts=1, max_iter=10),
        train_schedule=TrainingSchedule(
            first=8, factor=1.5, n_starts=1, n_starts_warm=1, max_iter=25
        ),
        **kwargs,
    )


@pytest.fixture(scope="module")
def RE() -> Iterator[RunEngine]:
    engine = RunEngine(context_managers=[])
    yield engine
    engine.loop.call_soon_threadsafe(engine.loop.stop)


@pytest.fixture(scope="module")
def catalog_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("replay") / "catalog"


@pytest.fixture(scope="module")
def catalog(catalog_dir: Path, RE: RunEngine) -> Iterator[Catalog]:
    with open_catalog(catalog_dir) as cat:
        cat.subscribe(RE)
        yield cat


@pytest.fixture(scope="module")
def mapped(RE: RunEngine, catalog: Catalog) -> dict[str, Any]:
    agent = fast_agent()
    (uid,) = RE(
        autonomous_plan([det2d], SPACE, target="det2d", agent=agent, max_points=20, progress=False)
    )
    return {"uid": uid, "agent": agent, "run": catalog[uid]}


def _check_recorded_posteriors(run: Any, **replay_kwargs: Any) -> int:
    """Replay every model decision of ``run``; return how many were checked."""
    checked = 0
    for k, record in enumerate(read_decisions(run)):
        if record.action != "measure" or not np.isfinite(record.predicted_mean):
            continue
        agent = replay(run, upto=k, **replay_kwargs)
        assert agent.n == record.n_points
        post = agent.predict(record.position[None, :])
        mean, std = float(post.mean[0]), float(np.sqrt(post.variance[0]))
        assert abs(mean - record.predicted_mean) <= TOL * max(1.0, abs(record.predicted_mean))
        assert abs(std - record.predicted_std) <= TOL * max(1.0, record.predicted_std)
        checked += 1
    return checked


def test_replay_reproduces_every_recorded_posterior(mapped: dict[str, Any]) -> None:
    assert _check_recorded_posteriors(mapped["run"]) == 20 - 8


def test_replaying_the_whole_run_rebuilds_the_final_agent(mapped: dict[str, Any]) -> None:
    live, rebuilt = mapped["agent"], replay(mapped["run"])
    np.testing.assert_array_equal(rebuilt.X, live.X)
    np.testing.assert_array_equal(rebuilt.y, live.y)
    assert rebuilt.gp.hyperparameters() == live.gp.hyperparameters()
    grid = np.random.default_rng(0).uniform([-2, -1.5], [2, 1.5], size=(200, 2))
    a, b = rebuilt.predict(grid), live.predict(grid)
    np.testing.assert_allclose(a.mean, b.mean, rtol=0, atol=TOL)
    np.testing.assert_allclose(a.variance, b.variance, rtol=0, atol=TOL)


def test_a_run_that_outgrows_the_exact_gp_replays_exactly(RE: RunEngine, catalog: Catalog) -> None:
    agent = fast_agent(exact_limit=14)  # the neighbour model from the 15th point on
    (uid,) = RE(
        autonomous_plan([det2d], SPACE, target="det2d", agent=agent, max_points=22, progress=False)
    )
    run = catalog[uid]
    models = [r.state.get("model") for r in read_decisions(run) if r.action == "measure"]
    assert "exact" in models and models[-1] == "neighbours"  # it switched during the run
    assert agent.model_kind == "neighbours"
    assert _check_recorded_posteriors(run) == 22 - 8
    rebuilt = replay(run)
    assert rebuilt.model_kind == "neighbours"
    grid = np.random.default_rng(1).uniform([-2, -1.5], [2, 1.5], size=(100, 2))
    np.testing.assert_allclose(rebuilt.predict(grid).mean, agent.predict(grid).mean, atol=TOL)


def test_resume_continues_in_a_linked_run(
    mapped: dict[str, Any], RE: RunEngine, catalog: Catalog
) -> None:
    old = mapped["run"]
    (uid,) = RE(resume_plan(old, [det2d], SPACE, max_points=6, progress=False))
    new = catalog[uid]
    start = new.metadata["start"]
    assert start["plan_name"] == "resume_plan"
    assert start["plan_args"]["run"] == mapped["uid"]
    assert start["gpsteer"]["resumed_from"] == mapped["uid"]
    assert start["gpsteer"]["agent_points_before_run"] == 20
    assert new.metadata["stop"]["num_events"]["primary"] == 6  # the old points not re-measured
    records = read_decisions(new)
    assert records[0].n_points == 20  # the first decision already knew the old points
    assert records[0].acquisition == "map"
    rebuilt = replay(new)  # follows the link to the old run
    assert rebuilt.n == 26
    np.testing.assert_array_equal(rebuilt.X[:20], mapped["agent"].X)
    assert _check_recorded_posteriors(new) == 6


def test_a_reduction_target_learns_values_and_their_noise(RE: RunEngine, catalog: Catalog) -> None:
    agent = fast_agent()
    (uid,) = RE(
        autonomous_plan(
            [spectrum],
            SPACE,
            target=reduce_spectrum,
            agent=agent,
            max_points=12,
            progress=False,
            final_training=False,
        )
    )
    run = catalog[uid]
    start = run.metadata["start"]
    assert start["gpsteer"]["target"] == {
        "kind": "reduction",
        "name": f"{reduce_spectrum.__module__}.reduce_spectrum",
    }
    X = agent.X
    np.testing.assert_allclose(agent.y, [field(*x) for x in X], atol=1e-12)
    assert agent.state().arrays["noise_variance"].shape == (12,)
    # the reduction is found again by name; passing it explicitly works too
    assert _check_recorded_posteriors(run) == 12 - 8
    assert _check_recorded_posteriors(run, target=reduce_spectrum) == 12 - 8


def test_an_array_field_as_target_is_refused() -> None:
    with pytest.raises(InputError, match="reduction"):
        autonomous_plan([spectrum], SPACE, target="spectrum", max_points=5)


def test_replay_refuses_runs_it_cannot_rebuild(RE: RunEngine, catalog: Catalog) -> None:
    (count_uid,) = RE(bp.count([det2d], num=2))
    with pytest.raises(InputError, match="autonomous_plan"):
        replay(catalog[count_uid])
    told = fast_agent()
    told.tell([[0.0, 0.0], [1.0, 1.0]], [0.0, 1.0])
    (uid,) = RE(
        autonomous_plan(
            [det2d],
            SPACE,
            target="det2d",
            agent=told,
            max_points=2,
            progress=False,
            final_training=False,
        )
    )
    with pytest.raises(ConfigurationError, match="outside any run"):
        replay(catalog[uid])


# -- the command line ---------------------------------------------------------------


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gpsteer")
    subparsers = parser.add_subparsers(dest="command")
    replay_cli.add_parser(subparsers)
    watch_cli.add_parser(subparsers)
    args = parser.parse_args(argv)
    return args.handler(args)


def test_the_cli_lists_runs_and_writes_a_map(
    mapped: dict[str, Any],
    catalog: Catalog,
    catalog_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    catalog.flush()
    assert _cli(["runs", "--catalog", str(catalog_dir), "--gpsteer-only"]) == 0
    listing = capsys.readouterr().out
    assert mapped["uid"][:8] in listing
    assert "autonomous_plan" in listing
    png = tmp_path / "map.png"
    assert (
        _cli(
            [
                "replay",
                mapped["uid"][:8],
                "--catalog",
                str(catalog_dir),
                "--out",
                str(png),
                "--grid",
                "30",
            ]
        )
        == 0
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "20 points" in capsys.readouterr().out
    assert _cli(["replay", "ffffffff", "--catalog", str(catalog_dir)]) == 1
    assert "no run" in capsys.readouterr().err


def test_a_run_trained_on_a_dask_client_replays_and_resumes_with_no_arguments(
    RE: RunEngine, catalog: Catalog
) -> None:
    """Issue 14, item 3: the beamline profile's agents train on the session's Dask client,
    an object a run cannot store. Replay and resume asked for ``Agent.from_state(...,
    training=...)`` before; now the rebuilt agent trains on the scheduler the run recorded
    while it answers (the same session), and inline once it is gone."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, host="127.0.0.1",
        protocol="tcp://", dashboard_address=None,
    )  # fmt: skip
    client = Client(cluster, set_as_default=False)
    try:
        agent = fast_agent(training=client)
        (uid,) = RE(
            autonomous_plan([det2d], SPACE, target="det2d", agent=agent, max_points=10,
                            progress=False)
        )  # fmt: skip
        agent.close()
        rebuilt = replay(catalog[uid])  # no arguments
        assert rebuilt.n == 10 and rebuilt.training_status().backend == "dask"
        assert rebuilt.training_status().address == cluster.scheduler_address
        rebuilt.close()
        (resumed,) = RE(resume_plan(catalog[uid], [det2d], SPACE, max_points=3, progress=False))
        continued = replay(catalog[resumed])
        assert continued.n == 13
        continued.close()
    finally:
        client.close()
        cluster.close()
    later = replay(catalog[uid])  # the session's cluster is gone: inline, still no arguments
    assert later.n == 10 and later.training_status().backend == "inline"
    later.close()


def test_watch_prints_a_stored_runs_decisions_and_its_end(
    mapped: dict[str, Any], catalog: Catalog, catalog_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog.flush()
    assert _cli(["watch", mapped["uid"][:8], "--catalog", str(catalog_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    records = read_decisions(mapped["run"])
    assert lines[0].startswith(f"run {mapped['uid']}")
    assert len(lines) == 1 + len(records) + 1  # header, one per record, the end
    measured = [line for line in lines if " measure " in line]
    assert len(measured) == 20
    assert "initial_design" in measured[0] and "map/" in measured[-1]
    assert "initial_design/" not in measured[0]
    assert "predicted" in measured[-1] and "(exact)" in measured[-1]
    assert lines[-2].split() == ["20", "stop", "max_points"]
    assert "ended: success" in lines[-1]
    assert _cli(["watch", "ffffffff", "--catalog", str(catalog_dir)]) == 1
    assert "no run 'ffffffff'" in capsys.readouterr().err


def test_watch_gives_up_when_no_run_starts_within_its_timeout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = str(tmp_path / "empty")
    assert _cli(["watch", "--catalog", empty, "--interval", "0.1", "--timeout", "0.5"]) == 1
    assert "no run started within 0.5 s (--timeout)" in capsys.readouterr().err


def test_a_scientist_intervenes_from_another_thread_while_a_run_goes_on(
    RE: RunEngine, catalog: Catalog
) -> None:
    import threading
    import time

    agent = fast_agent()
    box_lo, box_hi = (0.0, -1.5), (2.0, 1.5)  # the right half of the space
    done = threading.Event()

    def scientist() -> None:
        deadline = time.monotonic() + 120
        while agent.n < 10 and time.monotonic() < deadline:
            time.sleep(0.01)
        agent.measure_next([[-1.5, 1.0]], origin="scientist")
        agent.forbid(box_lo, box_hi, origin="scientist")
        while agent.n < 16 and time.monotonic() < deadline:
            time.sleep(0.01)
        agent.stop_after_current(origin="scientist")
        done.set()

    helper = threading.Thread(target=scientist)
    helper.start()
    (uid,) = RE(
        autonomous_plan(
            [slow_det], SPACE, target="slow_det", agent=agent, max_points=60, progress=False
        )
    )
    helper.join(timeout=120)
    assert done.is_set()
    run = catalog[uid]
    assert run.metadata["stop"]["reason"] == "requested"
    records = [r for r in read_decisions(run) if r.action == "measure"]
    assert len(records) < 60
    (asked,) = [r for r in records if r.acquisition == "requested"]
    np.testing.assert_allclose(asked.position, [-1.5, 1.0])
    assert "requested by scientist at" in asked.message
    (k,) = [i for i, r in enumerate(records) if "forbidden box [0..2, -1.5..1.5]" in r.message]
    assert all(r.position[0] <= 0.0 for r in records[k:])  # none inside the box from then on
    assert replay(run).forbidden[0].lo == box_lo  # the box is in the recorded state
