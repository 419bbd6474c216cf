"""A progress bar for an autonomous run: points done of the budget, uncertainty, time.

An autonomous run has no fixed length (it may stop early on a target
uncertainty or a user predicate), so the bar shows the point budget as its
total and the current model uncertainty beside it; the plan closes the bar with
the stop reason.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Any, TextIO

__all__ = ["Progress", "ProgressBar"]


@dataclass(frozen=True)
class Progress:
    """Where a run stands; passed to ``stop_when(agent, progress)``.

    Attributes
    ----------
    points : int
        Points measured in this run (initial design included); a decision made while
        the motors move to a point (the plans' default) counts that point.
    max_points : int or None
        The point budget (None: the loop stops on another rule).
    elapsed : float
        Seconds since the run opened.
    uncertainty : float
        The latest model uncertainty known to the plan: ``agent.max_uncertainty()``
        when a target uncertainty is set, else the predicted std at the latest
        chosen point (NaN before the first decision).
    decisions : int
        Decisions (asks) made so far.
    """

    points: int
    max_points: int | None
    elapsed: float
    uncertainty: float
    decisions: int


class ProgressBar:
    """A tqdm bar driven by the plan (not by documents, so a re-taken point counts once).

    Parameters
    ----------
    total : int or None
        The point budget (None: no budget, the bar counts up).
    file : file-like, optional
        Where to draw (default ``sys.stderr``).
    **tqdm_kwargs
        Passed to ``tqdm.tqdm`` (e.g. ``mininterval``, ``disable``).
    """

    def __init__(
        self, total: int | None, *, file: TextIO | None = None, **tqdm_kwargs: Any
    ) -> None:
        from tqdm.auto import tqdm

        self._bar = tqdm(
            total=total,
            desc="autonomous",
            unit="pt",
            file=file if file is not None else sys.stderr,
            dynamic_ncols=True,
            **tqdm_kwargs,
        )
        self._shown = 0

    def update(self, progress: Progress) -> None:
        """Show ``progress`` (cheap: tqdm redraws at most every ``mininterval``)."""
        step = progress.points - self._shown
        if step > 0:
            self._shown = progress.points
        unc = "n/a" if math.isnan(progress.uncertainty) else f"{progress.uncertainty:.3g}"
        self._bar.set_postfix_str(f"max std {unc}", refresh=False)
        self._bar.update(max(step, 0))

    def close(self, reason: str | None = None) -> None:
        """Close the bar, showing why the run stopped."""
        if reason:
            self._bar.set_description_str(f"autonomous ({reason})", refresh=False)
        self._bar.close()
