"""Soak run: a long ``autonomous_plan`` on the simulated SAXS beamline, watched for leaks.

What it runs: the SAXS IOC in a subprocess (motors at 100 mm/s, 20 ms exposures), the
ophyd devices, a RunEngine storing into an embedded catalog (temporary directory), and
an agent that retrains on Dask (embedded ``LocalCluster``, geometric schedule) while
mapping ``saxs_q0`` with its measured variance, for ``--points`` points (2000 by
default; ``--quick``: 100).

What it reports:

* **memory** — the resident set size (RSS) of this process and of its children (the
  Dask workers), sampled every ``--interval`` seconds against the points measured.
  Bounded means: what grows is the model (its Cholesky factor is N x N float64,
  32 MB at N = 2000), not a leak; the table shows RSS beside that size.
* **decision time** — the ``agent_decision_time`` the plan records with every point
  (tell the new reading, then ``ask``), by ranges of N, and the slope of
  log(time) against log(N) over the second half of the run.
* **leaks** — after ``agent.close()`` and ``catalog.close()``: Python threads and child
  processes that were not there before the run. A 10-point warm-up run first creates
  the process-wide helpers (Dask's offload and callback threads, caproto's client
  threads), so that only what the soak run itself left behind is counted.

Not a test: nothing here asserts; the figures go to ``<out>/soak.md`` and ``soak.json``.

Run: ``python -m benchmarks.bench_soak [--points 2000] [--quick] [--training inline]``.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.report import environment, limit_threads, markdown_table, write_outputs
from gpsteer.gp.neighbours import EXACT_LIMIT

VELOCITY = 100.0  # mm/s
EXPOSURE = 0.02  # s
DOMAIN = [(-5.0, 5.0), (-5.0, 5.0)]
MB = 1024.0**2


class Sampler:
    """Sample RSS (this process, children) and thread counts in a background thread."""

    def __init__(self, interval: float) -> None:
        import psutil

        self.process = psutil.Process()
        self.interval = interval
        self.points = 0  # set by the RunEngine callback
        self.rows: list[dict[str, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-sampler", daemon=True)
        self.t0 = time.monotonic()

    def sample(self) -> dict[str, float]:
        children = 0
        for child in self.process.children(recursive=True):
            try:
                children += child.memory_info().rss
            except Exception:  # a child exiting now
                pass
        row = {
            "t": time.monotonic() - self.t0,
            "points": self.points,
            "rss_mb": self.process.memory_info().rss / MB,
            "children_rss_mb": children / MB,
            "threads": threading.active_count(),
            "native_threads": self.process.num_threads(),
        }
        self.rows.append(row)
        return row

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> Sampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


def _agent(training: str, seed: int) -> Any:
    from gpsteer import Agent

    return Agent(bounds=DOMAIN, seed=seed, training=training)


def _run(RE: Any, det: Any, stage: Any, agent: Any, n: int) -> str:
    from gpsteer.plans import autonomous_plan

    (uid,) = RE(
        autonomous_plan(
            [det],
            {stage.x: DOMAIN[0], stage.y: DOMAIN[1]},
            target=("saxs_q0", "saxs_q0_variance"),
            agent=agent,
            max_points=n,
            progress=False,
        )
    )
    return uid


def _threads() -> dict[int, str]:
    return {t.ident or 0: t.name for t in threading.enumerate()}


def _children() -> set[int]:
    import psutil

    return {p.pid for p in psutil.Process().children(recursive=True)}


def soak(n_points: int, training: str, interval: float) -> dict[str, Any]:
    """Run the soak; return every figure (JSON-able)."""
    from gpsteer.sim_devices.loopback import apply_loopback_env

    apply_loopback_env()
    from bluesky import RunEngine

    from gpsteer.catalog import open_catalog
    from gpsteer.devices.end_stations import end_station
    from gpsteer.sim_devices import launcher

    ioc = launcher.start_ioc("saxs", seed=0, velocity=VELOCITY)
    workdir = tempfile.TemporaryDirectory(prefix="gpsteer-soak-")
    RE = RunEngine(context_managers=[])
    try:
        stage, det = end_station("saxs", ioc.handle.prefix, timeout=30.0)
        det.acq.acquire_time.put(EXPOSURE)
        catalog = open_catalog(Path(workdir.name) / "catalog")
        catalog.subscribe(RE)
        warm = _agent(training, seed=1)  # creates the process-wide helpers once
        _run(RE, det, stage, warm, 10)
        warm.close()
        gc.collect()
        threads_before, children_before = _threads(), _children()

        sampler = Sampler(interval)
        decisions: list[tuple[int, float]] = []

        def watch(name: str, doc: dict[str, Any]) -> None:
            data = doc.get("data", {}) if name == "event" else {}
            if "saxs_q0" in data:
                sampler.points += 1
            elif data.get("agent_action") == "measure" and data.get("agent_n_points", 0) > 0:
                decisions.append((int(data["agent_n_points"]), float(data["agent_decision_time"])))

        token = RE.subscribe(watch)
        agent = _agent(training, seed=0)
        t0 = time.perf_counter()
        try:
            with sampler:
                uid = _run(RE, det, stage, agent, n_points)
        finally:
            RE.unsubscribe(token)
        wall = time.perf_counter() - t0
        status = agent.training_status()
        stop = catalog[uid].metadata["stop"]
        agent.close()
        catalog.close()
        gc.collect()
        time.sleep(1.0)  # let closing threads finish
        leaked_threads = sorted(
            name for ident, name in _threads().items() if ident not in threads_before
        )
        leaked_children = sorted(_children() - children_before)
        after = sampler.sample()
    finally:
        RE.loop.call_soon_threadsafe(RE.loop.stop)
        ioc.process.kill()  # a kill, not SIGINT: no search reply from a half-closed server
        ioc.stop()
        Path(ioc.handle.log_path).unlink(missing_ok=True)
        workdir.cleanup()
    return {
        "points": n_points,
        "training": training,
        "wall_s": wall,
        "exit_status": stop["exit_status"],
        "num_events": stop["num_events"],
        "training_status": status.to_dict(),
        "samples": sampler.rows,
        "decisions": decisions,
        "leaked_threads": leaked_threads,
        "leaked_children": leaked_children,
        "rss_after_close_mb": after["rss_mb"],
    }


def summarise(result: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Markdown tables and headline figures of a soak result."""
    n = result["points"]
    decisions = np.array(result["decisions"], dtype=float).reshape(-1, 2)
    samples = result["samples"]
    steps = (1, 50, 100, 250, 500, 1000, 1500, 2000, 2500, 3000, 3001, 3500, 4000, 4500, 5000)
    edges = sorted({e for e in (*steps, n + 1) if e <= n + 1})
    rows = []
    for lo, hi in itertools.pairwise(edges):
        sel = decisions[(decisions[:, 0] >= lo) & (decisions[:, 0] < hi), 1]
        if sel.size == 0:
            continue
        at = [s for s in samples if lo <= s["points"] < hi]
        rss = f"{at[-1]['rss_mb']:.0f}" if at else "-"
        kids = f"{at[-1]['children_rss_mb']:.0f}" if at else "-"
        exact = hi - 1 <= EXACT_LIMIT  # beyond it the agent holds no N x N factor
        model = f"{8 * (hi - 1) ** 2 / MB:.1f}" if exact else "- (neighbours)"
        rows.append(
            [
                f"{lo}-{hi - 1}",
                str(sel.size),
                f"{1e3 * np.median(sel):.0f}",
                f"{1e3 * np.percentile(sel, 95):.0f}",
                rss,
                kids,
                model,
            ]
        )
    table = markdown_table(
        [
            "N (points told)",
            "decisions",
            "median decision ms",
            "p95 ms",
            "RSS MB (end of range)",
            "workers RSS MB",
            "N x N factor MB",
        ],
        rows,
    )
    half = decisions[decisions[:, 0] >= n / 2]
    slope = float("nan")
    if len(half) > 10 and np.ptp(half[:, 0]) > 0:
        slope = float(np.polyfit(np.log(half[:, 0]), np.log(half[:, 1]), 1)[0])
    second = [s for s in samples if s["points"] >= n / 2]
    growth = float("nan")
    if len(second) > 2 and second[-1]["points"] > second[0]["points"]:
        growth = (
            100
            * (second[-1]["rss_mb"] - second[0]["rss_mb"])
            / (second[-1]["points"] - second[0]["points"])
        )
    status = result["training_status"]
    headline = {
        "wall_s": result["wall_s"],
        "points_per_s": n / result["wall_s"],
        "rss_start_mb": samples[0]["rss_mb"],
        "rss_end_mb": samples[-2]["rss_mb"] if len(samples) > 1 else samples[-1]["rss_mb"],
        "rss_peak_mb": max(s["rss_mb"] for s in samples),
        "rss_growth_mb_per_100_points_second_half": growth,
        "workers_rss_peak_mb": max(s["children_rss_mb"] for s in samples),
        "threads_peak": max(s["threads"] for s in samples),
        "decision_time_loglog_slope_second_half": slope,
        "trainings": f"{status['n_jobs']} jobs, {status['n_accepted']} accepted, "
        f"{status['n_lost']} lost, {status['n_fallbacks']} inline fallbacks",
        "leaked_threads": result["leaked_threads"],
        "leaked_children": result["leaked_children"],
        "exit_status": result["exit_status"],
        "num_events": result["num_events"],
    }
    lines = "\n".join(
        f"- {k}: {v if not isinstance(v, float) else f'{v:.3g}'}" for k, v in headline.items()
    )
    return table + "\n" + lines + "\n", headline


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="smoke run: 100 points")
    parser.add_argument("--training", choices=["dask", "inline"], default="dask")
    parser.add_argument("--interval", type=float, default=1.0, help="RSS sampling period, s")
    parser.add_argument("--out", type=Path, default=Path("bench-output"))
    parser.add_argument("--threads", type=int, help="cap BLAS/OpenMP/torch threads")
    args = parser.parse_args(argv)
    if args.threads is not None:
        limit_threads(args.threads)
    n = 100 if args.quick else args.points
    result = soak(n, args.training, args.interval)
    text, headline = summarise(result)
    print(text, flush=True)
    env = environment(
        soak=f"SAXS IOC, {VELOCITY:g} mm/s, {1e3 * EXPOSURE:g} ms exposures, "
        f"training={args.training}, {n} points"
    )
    write_outputs(
        args.out,
        "soak",
        f"Soak: {n} points on the simulated SAXS beamline",
        text,
        env,
        {"environment": env, "headline": headline, **result},
    )
    return 0 if result["exit_status"] == "success" else 1


if __name__ == "__main__":
    raise SystemExit(main())
