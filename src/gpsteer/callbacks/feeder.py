"""The document callback that teaches an agent from a run's measurements.

The agent learns from the *document stream*, not from values the plan passes
around: whatever reaches the catalog is exactly what the model saw, and the same
callback, fed a stored run's documents, rebuilds the same model (replay).

For each event of the measurement stream (``primary``), the callback reads the
motor readbacks (the inputs ``x``) and the target (the output ``y`` and,
optionally, its noise variance) and keeps them as an observation. It tells the
agent at once, or — with ``defer=True``, as :func:`~gpsteer.plans.autonomous_plan`
uses it — when :meth:`AgentFeeder.flush` is called. Why defer: the callback runs
on the RunEngine's event loop, and ``tell`` may train the model inline (seconds);
the plan flushes in its decision thread instead, so the loop never waits for a fit.

Two details make it exact under the RunEngine's pause and resume:

* After a pause, the RunEngine re-runs the messages since the last checkpoint,
  which can re-take a point: a second event with the *same* ``seq_num``. The
  callback tells the agent only the first event of each ``seq_num`` and counts
  the rest in :attr:`AgentFeeder.duplicates`, on the live stream and on replay
  alike.
* An event whose value is NaN or infinite, whose variance is not a
  non-negative finite number, whose readbacks lie outside the bounds (by
  more than the agent's tolerance), or for which the target reduction raised
  :class:`~gpsteer.errors.RejectedReadingError` (e.g. a saturated detector) is
  not told; it is counted in :attr:`AgentFeeder.rejected` with its reason (a
  recorded rejection, never a silent drop), and the plan writes it to the
  run's ``agent`` stream.
* Any other error of the target reduction is raised as an
  :class:`~gpsteer.errors.InputError` that names the event it failed on.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from event_model import unpack_event_page

from gpsteer.agent.validation import BOUNDS_TOLERANCE, MAX_ABS_VALUE
from gpsteer.errors import InputError, RejectedReadingError, UnknownNameError
from gpsteer.schema.target import TargetSpec

__all__ = ["AgentFeeder", "Rejection"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rejection:
    """An event that was not told to the agent, and why."""

    seq_num: int
    reason: str


class AgentFeeder:
    """Turn a run's measurement events into observations and tell them to ``agent``.

    Parameters
    ----------
    agent : Agent or None
        Anything with ``tell(X (n, d), y (n,), noise_variance=None)``; None only
        collects the observations (replay reads them from :attr:`X`, :attr:`y`).
    fields : sequence of str
        The event fields holding the motor readbacks, in model-input order.
    target : TargetSpec
        What to learn (a field, a field with a variance field, or a reduction).
    bounds : array-like, optional
        ``(d, 2)`` bounds of the inputs; readbacks farther outside than
        ``BOUNDS_TOLERANCE`` of the width are rejected (the agent would refuse them).
    stream : str
        The event stream holding the measurements.
    defer : bool
        Keep observations until :meth:`flush` instead of telling each at once.

    Notes
    -----
    Use it as any Bluesky callback: ``callback(name, doc)``. It follows one run
    at a time (the latest ``start`` it saw); observations accumulate across runs
    (replaying a resumed run feeds its parent run first).
    """

    def __init__(
        self,
        agent: Any,
        fields: Sequence[str],
        target: TargetSpec,
        *,
        bounds: Any = None,
        stream: str = "primary",
        defer: bool = False,
    ) -> None:
        self.agent = agent
        self.fields = tuple(fields)
        self.target = target
        self.stream = stream
        self.bounds = None if bounds is None else np.asarray(bounds, dtype=np.float64)
        self.defer = bool(defer)
        self.run_uid: str | None = None
        self.duplicates = 0
        self.rejected: list[Rejection] = []
        self._x: list[np.ndarray] = []
        self._y: list[float] = []
        self._nv: list[float | None] = []
        self._told = 0
        self._lock = threading.Lock()
        self._descriptors: set[str] = set()
        self._seen: set[tuple[str, int]] = set()

    # -- what was collected ------------------------------------------------------

    @property
    def n(self) -> int:
        """Observations accepted so far (told or pending)."""
        return len(self._y)

    @property
    def told(self) -> int:
        """Observations told to the agent so far."""
        return self._told

    @property
    def X(self) -> np.ndarray:
        """``(n, d)`` inputs of the accepted observations, in arrival order."""
        with self._lock:
            return np.array(self._x, dtype=np.float64).reshape(-1, len(self.fields))

    @property
    def y(self) -> np.ndarray:
        """``(n,)`` target values of the accepted observations."""
        with self._lock:
            return np.array(self._y, dtype=np.float64)

    @property
    def noise_variance(self) -> np.ndarray | None:
        """``(n,)`` noise variances, or None when the target has none."""
        with self._lock:
            if not self._nv or self._nv[0] is None:
                return None
            return np.array(self._nv, dtype=np.float64)

    # -- the callback protocol -------------------------------------------------

    def __call__(self, name: str, doc: Mapping[str, Any]) -> None:
        handler = getattr(self, f"_on_{name}", None)
        if handler is not None:
            handler(doc)

    def _on_start(self, doc: Mapping[str, Any]) -> None:
        self.run_uid = doc["uid"]
        self._descriptors.clear()
        self._seen.clear()

    def _on_descriptor(self, doc: Mapping[str, Any]) -> None:
        if doc.get("name") != self.stream:
            return
        keys = doc.get("data_keys", {})
        needed = [*self.fields]
        if self.target.field is not None:
            needed.append(self.target.field)
        if self.target.variance_field is not None:
            needed.append(self.target.variance_field)
        missing = [f for f in needed if f not in keys]
        if missing:
            raise UnknownNameError(
                f"the {self.stream!r} stream has no field(s) {missing}; it has {sorted(keys)}. "
                "Read the motors and the target detector in every event"
            )
        self._descriptors.add(doc["uid"])

    def _on_event(self, doc: Mapping[str, Any]) -> None:
        descriptor = doc.get("descriptor")
        if descriptor not in self._descriptors:
            return
        key = (descriptor, int(doc["seq_num"]))
        if key in self._seen:
            self.duplicates += 1
            logger.info("event seq_num %d was re-taken after a pause; told once", key[1])
            return
        self._seen.add(key)
        try:
            self.observe(doc["data"], seq_num=key[1])
        except Exception as exc:
            run = (self.run_uid or "?")[:8]
            raise InputError(
                f"the target {self.target.name!r} could not be computed for event seq_num "
                f"{key[1]} of the {self.stream!r} stream of run {run}: {type(exc).__name__}: "
                f"{exc}. Fix the reduction (or pass another target); the event and those "
                "before it are stored"
            ) from exc
        if not self.defer:
            self.flush()

    def _on_event_page(self, doc: Mapping[str, Any]) -> None:
        for event in unpack_event_page(doc):
            self._on_event(event)

    # -- observations ------------------------------------------------------------

    def reduce(self, data: Mapping[str, Any]) -> tuple[np.ndarray, float, float | None]:
        """Return ``(x (d,), y, noise variance or None)`` for one event's ``data``."""
        x = np.array([float(np.asarray(data[f]).reshape(())) for f in self.fields])
        y, variance = self.target.evaluate(data)
        return x, y, variance

    def observe(self, data: Mapping[str, Any], *, seq_num: int = -1) -> bool:
        """Reduce one event's ``data`` into an observation; False if it was rejected.

        A reading is rejected (and recorded in :attr:`rejected`) when it is not
        finite, lies outside the bounds, or the target reduction raised
        :class:`~gpsteer.errors.RejectedReadingError`; any other error of the
        reduction propagates.
        """
        try:
            x, y, variance = self.reduce(data)
        except RejectedReadingError as exc:
            x, y, variance, reason = np.empty(0), math.nan, None, str(exc) or "rejected"
        else:
            reason = self._check(x, y, variance)
        if reason is not None:
            self.rejected.append(Rejection(seq_num, reason))
            logger.warning("event seq_num %d not told to the agent: %s", seq_num, reason)
            return False
        with self._lock:
            self._x.append(x)
            self._y.append(y)
            self._nv.append(variance)
        return True

    def flush(self) -> int:
        """Tell the agent every observation not yet told (one ``tell``); return how many.

        Call it from the thread that may wait for the agent (``tell`` may train
        inline), never from the RunEngine's loop when training is inline.
        """
        if self.agent is None:
            return 0
        with self._lock:
            start, stop = self._told, len(self._y)
            if start == stop:
                return 0
            X = np.array(self._x[start:stop], dtype=np.float64)
            y = np.array(self._y[start:stop], dtype=np.float64)
            nv = self._nv[start:stop]
        noise = None if nv[0] is None else np.array(nv, dtype=np.float64)
        self.agent.tell(X, y, noise_variance=noise)
        self._told = stop
        return stop - start

    def _check(self, x: np.ndarray, y: float, variance: float | None) -> str | None:
        if not np.all(np.isfinite(x)):
            return f"a motor readback is not finite ({x.tolist()})"
        if not math.isfinite(y):
            return f"the target value is {y}"
        if abs(y) > MAX_ABS_VALUE:
            return f"the target value {y:.3g} is too large to model (above {MAX_ABS_VALUE:.0e})"
        if variance is not None and not (
            math.isfinite(variance) and 0 <= variance <= MAX_ABS_VALUE**2
        ):
            return f"the noise variance is {variance}"
        if self.bounds is not None:
            lo, hi = self.bounds[:, 0], self.bounds[:, 1]
            slack = BOUNDS_TOLERANCE * (hi - lo)
            if np.any(x < lo - slack) or np.any(x > hi + slack):
                return f"the readbacks {x.tolist()} lie outside the bounds {self.bounds.tolist()}"
        return None
