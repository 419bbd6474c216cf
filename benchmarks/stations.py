"""The simulated end stations without Channel Access: the package's physics, read directly.

Why: mapping benchmarks take thousands of readings; over Channel Access that is
hours. The hidden sample (:mod:`gpsteer.sim_devices.samples`), its detector frame and
the device's reduction (:mod:`gpsteer.devices.reductions`) are the package's own
code, the same the IOC and the ophyd device run, called here in-process; nothing of
the physics is copied. :class:`UnitSquareView` shows a station as a field on the unit
square, the interface the benchmarks' mapping methods take.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gpsteer.devices import reductions
from gpsteer.sim_devices.samples import Domain, make_sample

__all__ = ["MAX_RETAKES", "STATIONS", "SimulatedStation", "StationSpec", "UnitSquareView"]

MAX_RETAKES = 5


@dataclass(frozen=True)
class StationSpec:
    """What is mapped at one end station: the reduced field and its ground-truth key."""

    kind: str
    field: str  # reduction field (without the device prefix)
    truth: str  # key of ``sample.ground_truth``

    @property
    def event_field(self) -> str:
        return f"{self.kind}_{self.field}"


STATIONS = {
    "saxs": StationSpec("saxs", "q0", "q0"),
    "arpes": StationSpec("arpes", "band_energy", "band_energy"),
    "ir": StationSpec("ir", "band_ratio", "band_ratio"),
}


class SimulatedStation:
    """An end station's physics without Channel Access: frame model + device reduction.

    Positions are in mm over the sample's domain. ``read`` returns the reduced value
    and its variance per point, retaking a frame whose fit failed (NaN).
    """

    def __init__(self, kind: str, seed: int, exposure_s: float) -> None:
        self.spec = STATIONS[kind]
        self.sample = make_sample(kind, seed)
        self.domain: Domain = self.sample.domain
        self.exposure_s = float(exposure_s)
        self.retakes = 0
        self.readings = 0
        self.variances: list[float] = []
        self.positions: list[tuple[float, float]] = []  # every valid reading, mm

    def _reduce(self, frame: np.ndarray) -> dict[str, float]:
        s, t = self.sample, self.exposure_s
        if self.spec.kind == "saxs":
            return reductions.reduce_saxs(frame, s.geometry, t).as_fields()
        if self.spec.kind == "arpes":
            axes = s.axes
            reduced = reductions.reduce_arpes(
                frame, axes.energy(), axes.angle(), t, edge_width_ev=axes.edge_width_ev
            )
            return reduced.as_fields()
        return reductions.reduce_ir(s.axes.wavenumber(), frame).as_fields()

    def read_one(self, x: float, y: float, rng: np.random.Generator) -> tuple[float, float]:
        name = self.spec.field
        for _ in range(MAX_RETAKES):
            fields = self._reduce(self.sample.frame(float(x), float(y), self.exposure_s, rng))
            value, variance = fields[name], fields[f"{name}_variance"]
            self.readings += 1
            if math.isfinite(value) and math.isfinite(variance):
                self.variances.append(variance)
                self.positions.append((float(x), float(y)))
                return value, variance
            self.retakes += 1
        raise RuntimeError(f"{self.spec.kind}: no valid reading at ({x:.3f}, {y:.3f})")

    def read(self, points: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``(values, variances)`` at ``points`` (n, 2) in mm."""
        pairs = [self.read_one(x, y, rng) for x, y in np.asarray(points, float)]
        values, variances = np.array(pairs, dtype=float).reshape(-1, 2).T
        return values, variances

    def truth(self, points: np.ndarray) -> np.ndarray:
        points = np.asarray(points, float)
        return np.asarray(self.sample.ground_truth(points[:, 0], points[:, 1])[self.spec.truth])

    def to_mm(self, unit: np.ndarray) -> np.ndarray:
        lo = np.array([self.domain.x[0], self.domain.y[0]])
        hi = np.array([self.domain.x[1], self.domain.y[1]])
        return lo + np.asarray(unit, float) * (hi - lo)


@dataclass
class UnitSquareView:
    """The station seen as a ``benchmarks.fields.Field`` on [0, 1]^2 (for the anchors).

    ``noise_std`` is what ``gpcam_mapping_loop`` hands gpCAM as the (constant) noise.
    """

    station: SimulatedStation
    noise_std: float
    name: str = ""

    def __call__(self, X: np.ndarray) -> np.ndarray:
        return self.station.truth(self.station.to_mm(X))

    def measure(
        self, X: np.ndarray, rng: np.random.Generator, noise_std: float | None = None
    ) -> np.ndarray:
        return self.station.read(self.station.to_mm(X), rng)[0]

    def sample(
        self, n: int, rng: np.random.Generator, noise_std: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        X = rng.uniform(0.0, 1.0, size=(n, 2))
        return X, self.measure(X, rng)
