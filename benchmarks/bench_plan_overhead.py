"""Per-point overhead of ``autonomous_plan`` over ``bp.list_scan``, and RunEngine loop latency.

Part 1 — overhead. ``autonomous_plan`` maps a 2-D field with ophyd.sim motors and a
``SynSignal`` detector (default agent settings, training on a shared Dask
``LocalCluster`` on 127.0.0.1). Then ``bp.list_scan`` visits the *same positions* with
the same devices. Per point: the difference, split into the agent's decision time
(recorded in each ``agent`` event: telling it the new data, ``ask``) and the plan's own
machinery (agent events, checkpoints, thread hand-offs, waits). The loop latency
(``LoopMonitor``: max, p99) is recorded during the autonomous run, Dask training included.

Part 2 — decisions hidden behind the motion. The same, with motors whose moves take
``--move-ms`` and a detector exposing ``--exposure-ms`` (default 30 + 20 ms a point), for
the plan as it runs by default (``pipeline=True``: the next decision is made while the
motors move and the detector exposes) and in series (``pipeline=False``), against
``list_scan`` over each run's positions. Points per second relative to ``list_scan``
say how much of the decision the beamline still waits for.

Part 3 — loop latency while the model trains. An agent holding 300 points whose first
training is due at 301 (inline training: a few seconds). Measured with ``LoopMonitor``
during four points of:

* ``autonomous_plan`` — training inline in the decision thread; and on Dask;
* bluesky-adaptive 1.0 ``optimize`` with the same gpsteer agent as its ``Optimizer``
  (``suggest``/``ingest`` run inside the plan generator, as the protocol has it), inline
  and on Dask. bluesky-adaptive's own Ax optimizer needs ax-platform, not installed here;
  the plan structure — what blocks the loop — is the same.

No catalog is subscribed (storage cost is the catalog's, see docs/reference/catalog.md).

``--gc-freeze`` calls ``gc.freeze()`` after the imports: Python's full (generation 2)
garbage collections stop every thread, and with torch, Dask and bluesky loaded one
took 200-250 ms here — the largest loop delays of an autonomous run without it.

Run: ``python -m benchmarks.bench_plan_overhead [--ns 100 500 1000] [--quick]``
(``--parts overhead motion latency`` to run some parts only).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.report import environment, limit_threads, markdown_table, write_outputs

BOUNDS = [(-2.0, 2.0), (-1.5, 1.5)]
PRIOR_POINTS = 300


def _field(x: float, y: float) -> float:
    return float(np.sin(1.7 * x) * np.cos(2.3 * y) + 0.3 * np.exp(-((x - 0.5) ** 2 + y**2)))


def _devices(move_s: float = 0.0, exposure_s: float = 0.0) -> tuple[Any, Any, Any]:
    """Two motors and a detector; moves take ``move_s`` and a trigger ``exposure_s``."""
    from ophyd.sim import SynAxis, SynSignal

    mx, my = SynAxis(name="bx", delay=move_s), SynAxis(name="by", delay=move_s)
    det = SynSignal(
        func=lambda: _field(mx.position, my.position), name="bdet", exposure_time=exposure_s
    )
    return mx, my, det


def _run_engine() -> Any:
    from bluesky import RunEngine

    return RunEngine(context_managers=[])


def _stop(RE: Any) -> None:
    RE.loop.call_soon_threadsafe(RE.loop.stop)


def _collect(RE: Any) -> tuple[list[tuple[str, dict]], int]:
    docs: list[tuple[str, dict]] = []
    return docs, RE.subscribe(lambda name, doc: docs.append((name, doc)))


def _streams(docs: list[tuple[str, dict]]) -> dict[str, list[dict]]:
    names, out = {}, {}
    for name, doc in docs:
        if name == "descriptor":
            names[doc["uid"]] = doc["name"]
        elif name == "event":
            out.setdefault(names[doc["descriptor"]], []).append(doc)
    return out


def overhead_row(
    n: int,
    client: Any,
    *,
    pipeline: bool = True,
    move_s: float = 0.0,
    exposure_s: float = 0.0,
) -> dict[str, Any]:
    """One autonomous run of ``n`` points and a list_scan of the same positions."""
    import bluesky.plans as bp

    from gpsteer import Agent
    from gpsteer.callbacks import LoopMonitor
    from gpsteer.plans import autonomous_plan
    from gpsteer.training import DaskTrainer

    mx, my, det = _devices(move_s, exposure_s)
    RE = _run_engine()
    agent = Agent(bounds=BOUNDS, seed=0, training=DaskTrainer(client=client))
    docs, token = _collect(RE)
    try:
        with LoopMonitor(RE, interval=0.005) as monitor:
            t0 = time.perf_counter()
            RE(
                autonomous_plan(
                    [det],
                    {mx: BOUNDS[0], my: BOUNDS[1]},
                    target="bdet",
                    agent=agent,
                    max_points=n,
                    progress=False,
                    final_training=False,
                    pipeline=pipeline,
                )
            )
            t_auto = time.perf_counter() - t0
        RE.unsubscribe(token)
        streams = _streams(docs)
        xs = [e["data"]["bx"] for e in streams["primary"]]
        ys = [e["data"]["by"] for e in streams["primary"]]
        decide = sum(
            e["data"]["agent_decision_time"]
            for e in streams["agent"]
            if e["data"]["agent_action"] == "measure" and e["data"]["agent_batch_index"] == 0
        )
        with LoopMonitor(RE, interval=0.005) as scan_monitor:
            t0 = time.perf_counter()
            RE(bp.list_scan([det], mx, xs, my, ys))
            t_list = time.perf_counter() - t0
        status = agent.training_status()
    finally:
        agent.close()
        _stop(RE)
    stats, scan_stats = monitor.stats(), scan_monitor.stats()
    return {
        "n": n,
        "pipeline": pipeline,
        "move_ms": 1e3 * move_s,
        "exposure_ms": 1e3 * exposure_s,
        "points_per_s_ratio": t_list / t_auto,
        "list_scan_loop_max_ms": 1e3 * scan_stats.max,
        "list_scan_ms_per_point": 1e3 * t_list / n,
        "autonomous_ms_per_point": 1e3 * t_auto / n,
        "overhead_ms_per_point": 1e3 * (t_auto - t_list) / n,
        "decision_ms_per_point": 1e3 * decide / n,
        "machinery_ms_per_point": 1e3 * (t_auto - t_list - decide) / n,
        "trainings_accepted": status.n_accepted,
        "loop_max_ms": 1e3 * stats.max,
        "loop_p99_ms": 1e3 * stats.p99,
    }


def _prior_agent(training: Any, names: list[str] | None = None) -> Any:
    """An agent with PRIOR_POINTS measurements whose first training is due at the next one."""
    from gpsteer import Agent
    from gpsteer.agent import TrainingSchedule

    rng = np.random.default_rng(3)
    X = rng.uniform([b[0] for b in BOUNDS], [b[1] for b in BOUNDS], size=(PRIOR_POINTS, 2))
    agent = Agent(
        bounds=BOUNDS,
        seed=0,
        training=training,
        train_schedule=TrainingSchedule(first=PRIOR_POINTS + 1),
        dimension_names=names,
        value_name="bdet",
    )
    agent.tell(X, [_field(*x) for x in X])
    return agent


def _wait_training(agent: Any) -> None:
    manager = agent._training.manager  # benchmark only: let a Dask job finish between rows
    manager.wait(timeout=300)


def latency_row(kind: str, training: str, client: Any) -> dict[str, Any]:
    """Loop latency during four points while the first training (300+ points) runs."""
    from gpsteer.callbacks import LoopMonitor
    from gpsteer.plans import autonomous_plan
    from gpsteer.training import DaskTrainer

    mx, my, det = _devices()
    RE = _run_engine()
    trainer = "inline" if training == "inline" else DaskTrainer(client=client)
    agent = _prior_agent(trainer, names=["bx", "by"])
    if kind == "autonomous_plan":
        plan = autonomous_plan(
            [det],
            {mx: BOUNDS[0], my: BOUNDS[1]},
            target="bdet",
            agent=agent,
            max_points=4,
            progress=False,
            final_training=False,
        )
    else:
        from bluesky_adaptive.plans import optimize
        from bluesky_adaptive.protocols import OptimizationProblem

        def evaluate(uid: str, suggestions: list[dict]) -> list[dict]:
            # gpsteer's ingest wants the positions with each outcome (n_points=1: the
            # detector holds the reading of the one point just measured)
            return [
                {"_id": s["_id"], "bx": mx.position, "by": my.position, "bdet": float(det.get())}
                for s in suggestions
            ]

        problem = OptimizationProblem(
            optimizer=agent, actuators=[mx, my], sensors=[det], evaluation_function=evaluate
        )
        plan = optimize(problem, iterations=4, n_points=1)
    try:
        with LoopMonitor(RE, interval=0.005) as monitor:
            t0 = time.perf_counter()
            RE(plan)
            wall = time.perf_counter() - t0
        if training != "inline":
            _wait_training(agent)
        jobs = agent.training_status().n_jobs
    finally:
        agent.close()
        _stop(RE)
    stats = monitor.stats()
    return {
        "plan": kind,
        "training": training,
        "wall_s": wall,
        "training_jobs": jobs,
        "loop_max_ms": 1e3 * stats.max,
        "loop_p99_ms": 1e3 * stats.p99,
    }


def _client() -> Any:
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        protocol="tcp://",
        dashboard_address=None,
    )
    client = Client(cluster, set_as_default=False)
    # Warm the worker (imports torch and gpsteer) so the first run's training is not late.
    client.submit(importlib.import_module, "gpsteer.training.jobs", pure=False).result()
    return client


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ns", type=int, nargs="+", default=[100, 500, 1000])
    parser.add_argument("--out", type=Path, default=Path("bench-output"))
    parser.add_argument("--quick", action="store_true", help="smoke run: N = 30, 60")
    parser.add_argument("--move-ms", type=float, default=30.0, help="part 2: a move's time")
    parser.add_argument("--exposure-ms", type=float, default=20.0, help="part 2: an exposure")
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=["overhead", "motion", "latency"],
        default=["overhead", "motion", "latency"],
    )
    parser.add_argument("--threads", type=int, help="cap BLAS/OpenMP/torch threads")
    parser.add_argument(
        "--gc-freeze", action="store_true", help="gc.freeze() after imports (see the docstring)"
    )
    args = parser.parse_args(argv)
    if args.threads is not None:
        limit_threads(args.threads)
    ns = [30, 60] if args.quick else args.ns
    try:
        import bluesky_adaptive

        adaptive = f"bluesky-adaptive {bluesky_adaptive.__version__}"
    except ImportError:
        adaptive = None
    client = _client()
    if args.gc_freeze:
        import bluesky.plans
        import ophyd.sim  # noqa: F401

        import gpsteer.agent
        import gpsteer.plans  # noqa: F401

        gc.collect()
        gc.freeze()
    move_s, exposure_s = 1e-3 * args.move_ms, 1e-3 * args.exposure_ms
    overhead: list[dict[str, Any]] = []
    motion: list[dict[str, Any]] = []
    latency: list[dict[str, Any]] = []
    try:
        if "overhead" in args.parts:
            overhead = [overhead_row(n, client) for n in ns]
        if "motion" in args.parts:
            motion = [
                overhead_row(n, client, pipeline=p, move_s=move_s, exposure_s=exposure_s)
                for n in ns
                for p in (True, False)
            ]
        if "latency" in args.parts:
            latency = [latency_row("autonomous_plan", t, client) for t in ("inline", "dask")]
            if adaptive is not None:
                latency += [latency_row("optimize", t, client) for t in ("inline", "dask")]
    finally:
        cluster = client.cluster
        client.close()
        cluster.close()
    import bluesky

    env = environment(
        gc=f"gc.freeze() {'after imports' if args.gc_freeze else 'not used'}",
        bluesky=f"bluesky {bluesky.__version__}",
        adaptive=adaptive or "bluesky-adaptive not installed",
    )
    table1 = markdown_table(
        [
            "N",
            "list_scan ms/pt",
            "autonomous ms/pt",
            "overhead ms/pt",
            "of which decision",
            "of which plan",
            "trainings accepted",
            "loop max / p99 ms",
            "list_scan loop max ms",
        ],
        [
            [
                str(r["n"]),
                f"{r['list_scan_ms_per_point']:.1f}",
                f"{r['autonomous_ms_per_point']:.1f}",
                f"{r['overhead_ms_per_point']:.1f}",
                f"{r['decision_ms_per_point']:.1f}",
                f"{r['machinery_ms_per_point']:.1f}",
                str(r["trainings_accepted"]),
                f"{r['loop_max_ms']:.0f} / {r['loop_p99_ms']:.0f}",
                f"{r['list_scan_loop_max_ms']:.0f}",
            ]
            for r in overhead
        ],
    )
    table_motion = markdown_table(
        [
            "N",
            "plan",
            "list_scan ms/pt",
            "autonomous ms/pt",
            "overhead ms/pt",
            "decision ms/pt",
            "points/s vs list_scan",
            "loop max / p99 ms",
        ],
        [
            [
                str(r["n"]),
                "pipelined" if r["pipeline"] else "in series",
                f"{r['list_scan_ms_per_point']:.1f}",
                f"{r['autonomous_ms_per_point']:.1f}",
                f"{r['overhead_ms_per_point']:.1f}",
                f"{r['decision_ms_per_point']:.1f}",
                f"{r['points_per_s_ratio']:.3f}",
                f"{r['loop_max_ms']:.0f} / {r['loop_p99_ms']:.0f}",
            ]
            for r in motion
        ],
    )
    table2 = markdown_table(
        ["plan", "training", "wall s", "training jobs", "loop max ms", "loop p99 ms"],
        [
            [
                r["plan"],
                r["training"],
                f"{r['wall_s']:.1f}",
                str(r["training_jobs"]),
                f"{r['loop_max_ms']:.0f}",
                f"{r['loop_p99_ms']:.0f}",
            ]
            for r in latency
        ],
    )
    md = ""
    if overhead:
        md += "### Per-point overhead over bp.list_scan (same positions, ophyd.sim devices)\n\n"
        md += table1
    if motion:
        md += (
            f"\n### Decisions behind the motion: {args.move_ms:g} ms moves + "
            f"{args.exposure_ms:g} ms exposures, pipelined and in series\n\n" + table_motion
        )
    if latency:
        md += f"\n### RunEngine loop latency, first training at {PRIOR_POINTS + 1} points\n\n"
        md += table2
    print(md, flush=True)
    payload = {"environment": env, "overhead": overhead, "motion": motion, "latency": latency}
    title = "autonomous_plan overhead and loop latency"
    stem = "plan_overhead_gc_freeze" if args.gc_freeze else "plan_overhead"
    write_outputs(args.out, stem, title, md, env, payload)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
