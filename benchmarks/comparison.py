"""Mapping comparisons on fields of the unit square: every method, every budget, resumable.

Why one module: the synthetic-field benchmark and the held-out suite ask the same
question (how good is each method's map after n noisy points?) and must answer it
the same way. Each method is run once per (field, seed) up to the largest budget
and scored at every budget on the same grid; results go to a JSON store after each
run, so a long benchmark can be stopped and resumed, and a gpsteer variant
(``--label``, ``--agent KEY=VALUE``) is added beside the baselines without measuring
them again.

gpsteer is driven as a user drives it: ``Agent(bounds, seed=seed, **options)`` with
its defaults unless ``options`` says otherwise, ``agent.run(instrument,
max_points=...)`` with its own initial design, the instrument returning each
reading's known noise variance (gpCAM's loop is given the same), and
``agent.predict(points).mean`` as the map.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.anchors import attempt, gpcam_mapping_loop
from benchmarks.baselines import Learner2DRun, Map, random_map, raster_map
from benchmarks.fields import nrmse
from gpsteer.errors import ConfigurationError, InputError

__all__ = [
    "BASELINES",
    "GPCAM_INITIAL",
    "UNIT_BOUNDS",
    "Curve",
    "Store",
    "gpsteer_configuration",
    "gpsteer_curve",
    "measure_all",
    "parse_agent_options",
]

UNIT_BOUNDS = [(0.0, 1.0), (0.0, 1.0)]
#: gpCAM's random initial design (its examples start from a handful of random points).
GPCAM_INITIAL = 10
PREDICT_CHUNK = 8000


@dataclass
class Curve:
    """One method's NRMSE at each budget on one field and seed, and what it cost."""

    nrmse: dict[int, float]
    choosing_s_per_point: float | None = None
    wall_s: float = 0.0
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "nrmse": {str(k): v for k, v in self.nrmse.items()},
            "choosing_s_per_point": self.choosing_s_per_point,
            "wall_s": self.wall_s,
            "error": self.error,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Curve:
        return cls(
            nrmse={int(k): float(v) for k, v in data["nrmse"].items()},
            choosing_s_per_point=data.get("choosing_s_per_point"),
            wall_s=float(data.get("wall_s", 0.0)),
            error=data.get("error"),
        )


# ----------------------------------------------------------------------------- options


def parse_agent_options(items: Iterable[str]) -> dict[str, Any]:
    """``["kernel=\\"matern32\\"", "train_schedule=null"]`` -> keyword arguments for ``Agent``.

    Each value is read as JSON; a value that is not JSON is taken as a plain string,
    because the shell eats the quotes of ``--agent acquisition="variance"``.
    """
    options: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise InputError(
                f"--agent takes KEY=VALUE with a keyword of Agent as KEY; got {item!r}. "
                'Example: --agent kernel=\\"matern32\\" --agent train_schedule=null'
            )
        if key in ("bounds", "seed"):
            raise InputError(f"--agent {key}=... is set by the benchmark; leave it out.")
        try:
            options[key] = json.loads(text)
        except json.JSONDecodeError:
            options[key] = text
    return options


def gpsteer_configuration(options: dict[str, Any]) -> dict[str, Any]:
    """What ``Agent(UNIT_BOUNDS, **options)`` resolves to (its defaults filled in), seedless.

    Two runs under one label must have the same configuration; a change of the
    Agent's defaults changes it, so stale results are caught, not mixed in.
    """
    from gpsteer import Agent

    with Agent(bounds=UNIT_BOUNDS, **options) as agent:
        config = agent.configuration()
    config.pop("seed", None)
    return json.loads(json.dumps(config, default=str))


def source_revision() -> str:
    """The git commit of the working tree (``+dirty`` when it has changes), or 'unknown'."""
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "unknown"
    return (commit or "unknown") + ("+dirty" if dirty else "")


# ----------------------------------------------------------------------------- methods


def _score(truth: np.ndarray, grid: np.ndarray, predict: Map) -> float:
    values = np.concatenate(
        [
            np.asarray(predict(grid[i : i + PREDICT_CHUNK]))
            for i in range(0, len(grid), PREDICT_CHUNK)
        ]
    )
    return nrmse(truth, values)


def gpsteer_curve(
    field: Any, budgets: Sequence[int], seed: int, grid: np.ndarray, options: dict[str, Any]
) -> Curve:
    """``Agent.run`` to each budget in turn, its posterior mean scored at each."""
    from gpsteer import Agent

    rng = np.random.default_rng([seed, 1])
    truth, noise = field(grid), field.noise_std**2
    measuring = [0.0]

    def instrument(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t0 = time.perf_counter()
        values = field.measure(points, rng)
        measuring[0] += time.perf_counter() - t0
        return values, np.full(len(values), noise)

    out: dict[int, float] = {}
    thinking = 0.0
    with Agent(bounds=UNIT_BOUNDS, seed=seed, **options) as agent:
        for b in sorted(budgets):
            t0, measuring[0] = time.perf_counter(), 0.0
            agent.run(instrument, max_points=b - agent.n, progress=False)
            thinking += time.perf_counter() - t0 - measuring[0]
            out[b] = _score(truth, grid, lambda X: agent.predict(X).mean)
        n = agent.n
    return Curve(out, thinking / n)


def gpcam_curve(field: Any, budgets: Sequence[int], seed: int, grid: np.ndarray) -> Curve:
    """gpCAM 8.6.1's loop as its docs write it (:func:`benchmarks.anchors.gpcam_mapping_loop`)."""
    truth = field(grid)
    trace = gpcam_mapping_loop(
        field,
        GPCAM_INITIAL,
        max(budgets),
        np.random.default_rng([seed, 2]),
        score_at=budgets,
        on_score=lambda n, mean: _score(truth, grid, mean),
    )
    seconds = trace.decision_seconds
    return Curve(
        {n: s for n, s in trace.scores if n in budgets},
        float(seconds.mean()) if len(seconds) else None,
    )


def learner2d_curve(field: Any, budgets: Sequence[int], seed: int, grid: np.ndarray) -> Curve:
    """python-adaptive's ``Learner2D`` grown to each budget (``baselines.Learner2DRun``)."""
    truth = field(grid)
    run = Learner2DRun(field, np.random.default_rng([seed, 3]))
    out = {b: _score(truth, grid, run.advance_to(b)) for b in sorted(budgets)}
    return Curve(out, run.choosing_s / max(1, run.n))


def _fixed_design_curve(build: Callable, tag: int) -> Callable:
    def curve(field: Any, budgets: Sequence[int], seed: int, grid: np.ndarray) -> Curve:
        truth = field(grid)
        return Curve(
            {
                b: _score(truth, grid, build(field, b, np.random.default_rng([seed, tag, b])))
                for b in budgets
            }
        )

    return curve


#: Methods that do not depend on gpsteer's options, by their column name.
BASELINES: dict[str, Callable[..., Curve]] = {
    "gpCAM": gpcam_curve,
    "Learner2D": learner2d_curve,
    "raster": _fixed_design_curve(raster_map, 4),
    "random": _fixed_design_curve(random_map, 5),
}


# ----------------------------------------------------------------------------- store


class Store:
    """Curves by (field, method, seed) in one JSON file, written after every run.

    ``methods`` records each gpsteer label's options and resolved configuration; a
    label measured under another configuration is refused (:meth:`check_label`).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        data = json.loads(self.path.read_text()) if self.path.exists() else {}
        self.methods: dict[str, Any] = data.get("methods", {})
        self.curves: dict[str, Any] = data.get("curves", {})
        self._forgotten: set[str] = set()

    @staticmethod
    def key(field: str, method: str, seed: int) -> str:
        return f"{field}|{method}|{seed}"

    def get(self, field: str, method: str, seed: int, budgets: Sequence[int]) -> Curve | None:
        """The stored curve if it covers every budget and did not fail."""
        data = self.curves.get(self.key(field, method, seed))
        if data is None:
            return None
        curve = Curve.from_json(data)
        if curve.error or not set(budgets) <= set(curve.nrmse):
            return None
        return curve

    def put(self, field: str, method: str, seed: int, curve: Curve) -> None:
        self.curves[self.key(field, method, seed)] = curve.to_json()
        self.save()

    def check_label(self, label: str, options: dict[str, Any], configuration: dict) -> None:
        """Record ``label``'s configuration, or refuse one that differs from the stored one."""
        known = self.methods.get(label)
        if known is not None and known["configuration"] != configuration:
            raise ConfigurationError(
                f"{self.path} holds results for --label {label!r} measured with another "
                f"configuration ({known['options']}, revision {known['revision']}). Pass a new "
                "--label, or --remeasure to drop that label's results and measure it again."
            )
        if known is not None:
            return  # keep the revision the results were measured at
        self.methods[label] = {
            "options": options,
            "configuration": configuration,
            "revision": source_revision(),
        }
        self.save()

    def describe_variants(self) -> str:
        """ "'gpsteer': Agent defaults (revision c99bff7); 'm32': {'kernel': 'matern32'} (...)"."""
        return "; ".join(
            f"'{label}': {m['options'] or 'Agent defaults'} (revision {m['revision']})"
            for label, m in self.methods.items()
        )

    def forget(self, label: str) -> None:
        """Drop ``label``'s curves and configuration (the baselines stay)."""
        self._forgotten.add(label)
        self.methods.pop(label, None)
        self.curves = {k: v for k, v in self.curves.items() if k.split("|")[-2] != label}
        self.save()

    def save(self) -> None:
        """Write the file, merged with what other processes wrote since it was read.

        Why: stations or fields can be measured by several processes at once into one
        store (``--stations saxs`` beside ``--stations ir``); under a lock, entries on
        disk that this process does not hold are kept, its own entries win.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if self.path.exists():
                disk = json.loads(self.path.read_text())
                for key, value in disk.get("curves", {}).items():
                    if key not in self.curves and key.split("|")[-2] not in self._forgotten:
                        self.curves[key] = value
                for label, value in disk.get("methods", {}).items():
                    if label not in self._forgotten:
                        self.methods.setdefault(label, value)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"methods": self.methods, "curves": self.curves}, indent=1))
            os.replace(tmp, self.path)  # a killed run leaves the previous file whole


def measure_all(
    store: Store,
    fields: Sequence[Any],
    seeds: Sequence[int],
    budgets: Sequence[int],
    grid: np.ndarray,
    label: str,
    options: dict[str, Any],
    baselines: Sequence[str],
    field_for_seed: Callable[[Any, int], Any] | None = None,
) -> None:
    """Run every missing (field, method, seed) curve and store it; print one line per run.

    ``field_for_seed(field, seed)`` gives the field measured at ``seed`` (the held-out
    suite draws a new instance per seed); by default the field itself.
    """
    methods: dict[str, Callable[..., Curve]] = {
        label: lambda f, b, s, g: gpsteer_curve(f, b, s, g, options)
    }
    methods |= {name: BASELINES[name] for name in baselines}
    for field in fields:
        for seed in seeds:
            instance = field_for_seed(field, seed) if field_for_seed else field
            name = getattr(field, "name", str(field))
            for method, run in methods.items():
                if store.get(name, method, seed, budgets) is not None:
                    continue
                t0 = time.perf_counter()
                outcome = attempt(run, instance, budgets, seed, grid)
                curve = outcome.value if outcome.ok else Curve({}, error=outcome.error)
                curve.wall_s = time.perf_counter() - t0
                store.put(name, method, seed, curve)
                shown = " ".join(f"{b}:{v:.4f}" for b, v in sorted(curve.nrmse.items()))
                print(
                    f"{name} seed {seed} {method}: {shown or curve.error} ({curve.wall_s:.0f} s)",
                    flush=True,
                )


def seed_values(
    store: Store, field: str, method: str, seeds: Sequence[int], budget: int
) -> list[float]:
    """The NRMSE of each seed at ``budget`` (NaN where missing or failed)."""
    out = []
    for seed in seeds:
        data = store.curves.get(Store.key(field, method, seed))
        value = math.nan
        if data is not None and not data.get("error"):
            value = float(data["nrmse"].get(str(budget), math.nan))
        out.append(value)
    return out
