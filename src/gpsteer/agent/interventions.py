"""The scientist in the loop: points to measure next, forbidden boxes, a stop request.

Why a separate, locked store: a scientist intervenes from another thread of the
IPython session (or a callback) while the RunEngine's worker thread decides. Each
intervention is taken at the agent's next decision, which says so in its message
(time and origin), so the run's ``agent`` stream records it. Forbidden boxes are part
of the agent's snapshot, so a replayed or resumed agent keeps honouring them; a stop
request is taken once (a resumed run is not stopped again).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from gpsteer.errors import InputError

__all__ = ["ForbiddenBox", "Interventions"]


def _stamp(origin: str) -> str:
    return f"{origin} at {time.strftime('%H:%M:%S')}"


@dataclass(frozen=True)
class ForbiddenBox:
    """A box of the input space the agent must not suggest points in (user units; its
    boundary is allowed)."""

    lo: tuple[float, ...]
    hi: tuple[float, ...]
    origin: str = "session"

    def outside(self, X: torch.Tensor) -> torch.Tensor:
        """A constraint ``g(X) >= 0`` that holds outside the box (torch, differentiable)."""
        lo = torch.as_tensor(self.lo, dtype=X.dtype, device=X.device)
        hi = torch.as_tensor(self.hi, dtype=X.dtype, device=X.device)
        return torch.maximum(lo - X, X - hi).max(dim=-1).values

    def contains(self, X: np.ndarray) -> np.ndarray:
        """Whether each row of ``X`` is inside (its boundary is allowed, as for ``outside``)."""
        X = np.atleast_2d(X)
        return np.all((X > self.lo) & (X < self.hi), axis=1)

    def to_dict(self) -> dict[str, Any]:
        return {"lo": list(self.lo), "hi": list(self.hi), "origin": self.origin}

    def describe(self) -> str:
        corners = ", ".join(f"{a:g}..{b:g}" for a, b in zip(self.lo, self.hi, strict=True))
        return f"box [{corners}]"


@dataclass
class Interventions:
    """What a scientist asked for, waiting for the agent's next decision (thread-safe)."""

    bounds: np.ndarray
    boxes: list[ForbiddenBox] = field(default_factory=list)
    stop: str | None = None  #: who asked for a stop, and when
    _requested: list[tuple[np.ndarray, str]] = field(default_factory=list)
    _news: list[str] = field(default_factory=list)  # not yet reported by a decision
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def request_points(self, points: np.ndarray, origin: str) -> None:
        with self._lock:
            blocked = [b for b in self.boxes if b.contains(points).any()]
            if blocked:
                raise InputError(
                    f"point(s) requested inside the forbidden {blocked[0].describe()}; "
                    "allow the box again (agent.allow) or request other points."
                )
            for p in points:
                self._requested.append((p, _stamp(origin)))

    def forbid(self, lo: Sequence[float], hi: Sequence[float], origin: str) -> ForbiddenBox:
        lo_a, hi_a = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
        d = self.bounds.shape[0]
        if lo_a.shape != (d,) or hi_a.shape != (d,) or not np.all(np.isfinite([lo_a, hi_a])):
            raise InputError(
                f"a box needs lo and hi with {d} finite value(s) each; got {lo}, {hi}."
            )
        if np.any(lo_a > hi_a):
            raise InputError(f"a box needs lo <= hi in every dimension; got lo={lo}, hi={hi}.")
        if np.all(lo_a <= self.bounds[:, 0]) and np.all(hi_a >= self.bounds[:, 1]):
            raise InputError("that box covers the whole space: nothing would be left to measure.")
        box = ForbiddenBox(tuple(lo_a.tolist()), tuple(hi_a.tolist()), origin)
        with self._lock:
            self.boxes.append(box)
            self._requested = [(p, o) for p, o in self._requested if not box.contains(p)[0]]
            self._news.append(f"forbidden {box.describe()} by {_stamp(origin)}")
        return box

    def allow(self, box: ForbiddenBox, origin: str) -> None:
        with self._lock:
            if box not in self.boxes:
                raise InputError(f"{box.describe()} is not forbidden; forbidden: {self.boxes}.")
            self.boxes.remove(box)
            self._news.append(f"allowed {box.describe()} again by {_stamp(origin)}")

    def request_stop(self, origin: str) -> None:
        with self._lock:
            self.stop = _stamp(origin)

    def take_stop(self) -> str | None:
        """Who asked for a stop, and when (once: a resumed run is not stopped again)."""
        with self._lock:
            stop, self.stop = self.stop, None
        return stop

    def take(self, n: int) -> tuple[np.ndarray, list[str]]:
        """Up to ``n`` requested points (in order) and the news a decision must report."""
        with self._lock:
            taken, self._requested = self._requested[:n], self._requested[n:]
            news, self._news = self._news, []
        news += [f"requested by {origin}" for _, origin in taken]
        points = np.array([p for p, _ in taken]).reshape(len(taken), self.bounds.shape[0])
        return points, news

    def constraints(self) -> list[Any]:
        with self._lock:
            return [box.outside for box in self.boxes]

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {"forbidden": [b.to_dict() for b in self.boxes]}

    def restore(self, data: dict[str, Any] | None) -> None:
        if not data:
            return
        with self._lock:
            self.boxes = [
                ForbiddenBox(tuple(b["lo"]), tuple(b["hi"]), b.get("origin", "session"))
                for b in data.get("forbidden", [])
            ]
