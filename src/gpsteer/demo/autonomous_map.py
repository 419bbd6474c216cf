"""The demo's beamline session: an autonomous map on a simulated end station, end to end.

:func:`run_session` does what a beamline scientist's session does, on loopback:

1. starts a Dask ``LocalCluster`` for hyperparameter training (in the
   background, while the rest starts);
2. starts the end station's simulated IOC and connects its ophyd devices;
3. opens the embedded run catalog in the output folder and subscribes it to a
   RunEngine;
4. runs ``RE(autonomous_plan(...))`` with a progress bar, the agent training on
   Dask;
5. grades the map against the hidden sample, rebuilds it from the catalog
   (:func:`~gpsteer.catalog.replay`) to show the run holds everything, writes
   the report figure and returns a :class:`SessionResult` whose
   :meth:`~SessionResult.summary` the command prints.

Everything it starts (IOC, cluster, catalog, RunEngine loop) is stopped before
it returns, also on errors and Ctrl-C.
"""

from __future__ import annotations

import contextlib
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gpsteer.demo.report import MapQuality, draw_report, evaluate_map, truth_on_grid
from gpsteer.devices.stations import station_info
from gpsteer.errors import InputError
from gpsteer.sim_devices.samples import SAMPLE_BOUNDS

__all__ = ["RASTER_GRID", "SessionResult", "run_session"]

#: The raster the autonomous map is measured against: 50 x 50 points.
RASTER_GRID = 50


@dataclass(frozen=True)
class SessionResult:
    """What one demo session did, for the summary and for tests.

    Attributes
    ----------
    station : str
        End-station kind.
    uid : str
        The run's uid in the catalog.
    n_points : int
        Points measured (and told to the agent).
    stop_reason : str
        Why the run stopped (``max_points``, ...).
    quality : MapQuality
        The map's error against the hidden sample, and an equal-points raster's.
    replay_difference : float
        Largest difference between the live posterior mean and the one rebuilt
        from the catalog, on the evaluation grid (rounding level when the run
        holds everything).
    plan_seconds, setup_seconds : float
        Wall time of the plan, and of starting everything before it.
    decision_seconds : float
        Median time the agent took per decision (the RunEngine kept running).
    training : dict
        The agent's training status at the end (``TrainingStatus.to_dict()``).
    catalog : Path
        The embedded catalog directory holding the run.
    figure : Path
        The report figure.
    ioc : str
        Where the simulated IOC served (prefix and port).
    """

    station: str
    uid: str
    n_points: int
    stop_reason: str
    quality: MapQuality
    replay_difference: float
    plan_seconds: float
    setup_seconds: float
    decision_seconds: float
    training: dict[str, Any] = field(repr=False)
    catalog: Path
    figure: Path
    ioc: str

    def summary(self) -> str:
        """The lines the command prints at the end."""
        info = station_info(self.station)
        q = self.quality
        t = self.training
        side = q.raster_side
        return "\n".join(
            [
                f"gpsteer demo: autonomous {info.title} map on a simulated beamline",
                f"  end station      {self.station} ({self.ioc})",
                f"  target           {info.target[0]}: {info.label}, with its measured variance",
                f"  points measured  {self.n_points} in {self.plan_seconds:.0f} s "
                f"(stopped on {self.stop_reason}); set-up {self.setup_seconds:.0f} s",
                f"  raster fraction  {q.raster_fraction:.1%} of a {q.grid} x {q.grid} raster "
                f"({q.grid**2} points)",
                f"  map error        NRMSE {q.nrmse:.1%} of the field's range, against the "
                f"hidden sample on the {q.grid} x {q.grid} grid",
                f"  equal raster     a {side} x {side} raster ({side * side} points), "
                f"noise-free, interpolated: NRMSE {q.raster_nrmse:.1%}",
                f"  decisions        median {self.decision_seconds:.2f} s, off the RunEngine loop",
                f"  training         Dask: {t.get('n_jobs', 0)} jobs, "
                f"{t.get('n_accepted', 0)} accepted",
                f"  replay check     the stored run rebuilds this map "
                f"(max difference {self.replay_difference:.1e})",
                f"  run uid          {self.uid}",
                f"  catalog          {self.catalog}",
                f"  figure           {self.figure}",
                f"  replay it        gpsteer replay {self.uid[:8]} --catalog {self.catalog} "
                "--out map.png",
            ]
        )


def _stop_loop(RE: Any) -> None:
    """Stop the RunEngine's event-loop thread (the RunEngine has no close())."""
    with contextlib.suppress(Exception):
        if RE.state != "idle":
            RE.abort("the demo is stopping")
    with contextlib.suppress(Exception):
        RE.loop.call_soon_threadsafe(RE.loop.stop)


def run_session(
    station: str = "saxs",
    *,
    budget: int = 100,
    out: str | Path = "demo-output",
    seed: int = 0,
    velocity: float = 25.0,
    acquisition: str = "map",
    progress: bool = True,
    log: Any = None,
) -> SessionResult:
    """Map the hidden sample of a simulated end station autonomously; see the module docstring.

    Parameters
    ----------
    station : {"saxs", "arpes", "ir"}
        The end station (its default target: :data:`~gpsteer.devices.stations.STATIONS`).
    budget : int
        Points to measure (at least 10).
    out : path
        Output folder: the catalog (``catalog/``) and the figure
        (``<station>_map.png``) go there.
    seed : int
        Seed of the hidden sample and of the agent.
    velocity : float
        Motor speed, mm/s.
    acquisition : str
        The agent's acquisition function (default ``"map"``: see docs/concepts/maps_with_edges).
    progress : bool
        Show the plan's progress bar (on stderr).
    log : file, optional
        Where to print progress lines (default stderr).
    """
    info = station_info(station)
    if int(budget) != budget or budget < 10:
        raise InputError(f"budget must be an integer of at least 10 points, got {budget!r}")
    out = Path(out)
    log = sys.stderr if log is None else log
    t0 = time.perf_counter()

    def say(text: str) -> None:
        print(f"[{time.perf_counter() - t0:5.1f} s] {text}", file=log, flush=True)

    out.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        from gpsteer.training import DaskTrainer

        trainer = DaskTrainer()
        stack.callback(trainer.close)
        trainer.start(wait=False)  # worker processes import torch meanwhile
        say("starting a Dask LocalCluster for training (in the background)")

        from gpsteer.session.beamline import Beamline

        beamline = stack.enter_context(Beamline.simulated([station], seed=seed, velocity=velocity))
        st = beamline[station]
        ioc = f"IOC prefix {st.prefix} on 127.0.0.1:{st.port}, hidden sample seed {seed}"
        pid = st.process.handle.pid
        say(f"{info.title} IOC (pid {pid}) serving {st.prefix} on 127.0.0.1:{st.port}; connected")

        from bluesky import RunEngine

        from gpsteer import Agent
        from gpsteer.catalog import open_catalog
        from gpsteer.plans import autonomous_plan
        from gpsteer.session.interrupts import InterruptibleDuringTask

        catalog = stack.enter_context(open_catalog(out / "catalog"))
        # The SIGINT handler (Ctrl-C pauses, then we abort) needs the main thread.
        if _main_thread():
            RE = RunEngine(during_task=InterruptibleDuringTask())
        else:
            RE = RunEngine(context_managers=[])
        stack.callback(_stop_loop, RE)
        catalog.subscribe(RE)
        say(f"catalog open at {catalog.directory}")

        agent = Agent(bounds=SAMPLE_BOUNDS, acquisition=acquisition, training=trainer, seed=seed)
        stack.callback(agent.close)
        setup_seconds = time.perf_counter() - t0
        say(f"running autonomous_plan: {budget} points of {info.target[0]}")
        t_plan = time.perf_counter()
        (uid,) = RE(
            autonomous_plan(
                [st.detector],
                st.space(),
                target=info.target,
                agent=agent,
                max_points=int(budget),
                progress=progress,
                md={"purpose": "gpsteer demo", "sample_seed": seed},
            )
        )
        plan_seconds = time.perf_counter() - t_plan
        training = agent.training_status().to_dict()

        sample = st.sample()
        quality = evaluate_map(agent, sample, info.truth_field, SAMPLE_BOUNDS, grid=RASTER_GRID)
        run = catalog[uid]
        difference, n_initial, times = _check_replay(run, agent, sample, info.truth_field)
        figure = out / f"{station}_map.png"
        draw_report(
            agent,
            sample,
            field=info.truth_field,
            label=info.label,
            units=info.units,
            bounds=SAMPLE_BOUNDS,
            quality=quality,
            n_initial=n_initial,
            title=(
                f"Autonomous {info.title} map on the simulated beamline: {agent.n} points "
                f"({quality.raster_fraction:.1%} of a {RASTER_GRID}x{RASTER_GRID} raster), "
                f"run {uid[:8]}"
            ),
            path=figure,
        )
        say(f"report figure written: {figure}; stopping the IOC, the cluster and the catalog")
        result = SessionResult(
            station=station,
            uid=uid,
            n_points=int(agent.n),
            stop_reason=str(run.metadata["stop"].get("reason", "")),
            quality=quality,
            replay_difference=difference,
            plan_seconds=plan_seconds,
            setup_seconds=setup_seconds,
            decision_seconds=statistics.median(times) if times else float("nan"),
            training=training,
            catalog=Path(catalog.directory or out / "catalog"),
            figure=figure,
            ioc=ioc,
        )
    return result


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _check_replay(run: Any, agent: Any, sample: Any, field: str) -> tuple[float, int, list[float]]:
    """Rebuild the map from the stored run alone; compare it with the live one.

    Returns the largest difference of the posterior means on the evaluation grid,
    the size of the initial design, and the recorded decision times.
    """
    from gpsteer.catalog import read_decisions, replay

    records = read_decisions(run)
    rebuilt = replay(run, training="inline")
    try:
        gx, gy, _ = truth_on_grid(sample, field, SAMPLE_BOUNDS, RASTER_GRID)
        grid = np.column_stack([a.ravel() for a in np.meshgrid(gx, gy)])
        difference = float(np.max(np.abs(rebuilt.predict(grid).mean - agent.predict(grid).mean)))
    finally:
        rebuilt.close()
    measures = [r for r in records if r.action == "measure"]
    n_initial = sum(r.acquisition == "initial_design" for r in measures)
    times = [r.decision_time for r in measures if np.isfinite(r.decision_time)]
    return difference, n_initial, times
