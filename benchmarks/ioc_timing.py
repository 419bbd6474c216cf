"""Wall time per point of gpsteer against a real simulated IOC, through the RunEngine.

Why: the in-process station (:mod:`benchmarks.stations`) gives accuracy, not the
time a beamline waits: that needs Channel Access, motors that move, a detector that
exposes and Dask training beside the RunEngine. ``bench_beamline_mapping
--wall-points N`` runs ``autonomous_plan`` against each IOC (a subprocess) and reads
the time of each step back from the run's documents.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np

from benchmarks.stations import STATIONS

__all__ = ["wall_time_per_point"]


def wall_time_per_point(
    kinds: list[str], n_points: int, velocity: float, exposure_s: float, seed: int, options: dict
) -> dict[str, dict[str, float]]:
    """``autonomous_plan`` against each real IOC (subprocess), Dask training on one worker.

    Per point after the initial design: ``decision_s`` (the agent's recorded decision
    time), ``measure_s`` (agent event -> primary event: move, exposure, readout,
    reduction) and ``total_s`` (primary event to primary event).
    """
    from gpsteer.sim_devices.loopback import apply_loopback_env

    apply_loopback_env()  # before ophyd is imported
    from bluesky import RunEngine

    from gpsteer import Agent
    from gpsteer.devices.end_stations import end_station
    from gpsteer.plans import autonomous_plan
    from gpsteer.sim_devices.launcher import running_ioc
    from gpsteer.training import DaskTrainer

    out: dict[str, dict[str, float]] = {}
    RE = RunEngine(context_managers=[])
    with DaskTrainer(n_workers=1, processes=True) as trainer:
        trainer.start()
        for kind in kinds:
            with running_ioc(kind, seed=seed, velocity=velocity) as ioc:
                stage, detector = end_station(kind, ioc.prefix, timeout=15.0)
                detector.acq.acquire_time.set(exposure_s).wait(timeout=10)
                docs: list[tuple[str, dict[str, Any]]] = []
                token = RE.subscribe(lambda name, doc, docs=docs: docs.append((name, doc)))
                domain = ioc.sample().domain
                field_name = STATIONS[kind].event_field
                settings = {"training": trainer.client} | options
                with Agent(bounds=[domain.x, domain.y], seed=seed, **settings) as ag:
                    t0 = time.perf_counter()
                    RE(
                        autonomous_plan(
                            [detector],
                            {stage.x: domain.x, stage.y: domain.y},
                            target=(field_name, f"{field_name}_variance"),
                            agent=ag,
                            max_points=n_points,
                            progress=False,
                        )
                    )
                    wall = time.perf_counter() - t0
                RE.unsubscribe(token)
                out[kind] = _per_point(docs, kind) | {"run_s": wall, "n_points": n_points}
    RE.loop.call_soon_threadsafe(RE.loop.stop)
    return out


def _per_point(docs: list[tuple[str, dict[str, Any]]], kind: str) -> dict[str, float]:
    streams = {d["uid"]: d["name"] for name, d in docs if name == "descriptor"}
    events = [(streams[d["descriptor"]], d) for name, d in docs if name == "event"]
    decision, measure, total, travel = [], [], [], []
    last_agent, last_primary = None, None
    axes = (f"{kind}_stage_x", f"{kind}_stage_y")
    for stream, doc in events:
        if stream == "agent" and doc["data"]["agent_action"] == "measure":
            last_agent = doc
        elif stream == "primary" and last_agent is not None:
            if int(last_agent["data"]["agent_decision"]) >= 1:  # after the initial design
                decision.append(float(last_agent["data"]["agent_decision_time"]))
                measure.append(doc["time"] - last_agent["time"])
                total.append(doc["time"] - last_primary["time"])
                step = [doc["data"][a] - last_primary["data"][a] for a in axes]
                travel.append(float(np.max(np.abs(step))))
            last_primary = doc
    return {
        "decision_s": statistics.median(decision),
        "measure_s": statistics.median(measure),
        "total_s": statistics.median(total),
        "total_mean_s": statistics.fmean(total),
        "longest_axis_travel_mm": statistics.median(travel),
        "n_timed": len(total),
    }
