"""The progress bar shows points of the budget, the uncertainty and the stop reason."""

from __future__ import annotations

import io

from gpsteer.agent.progress import Progress, ProgressBar


def test_the_bar_counts_points_and_shows_the_stop_reason() -> None:
    out = io.StringIO()
    bar = ProgressBar(10, file=out, mininterval=0)
    bar.update(
        Progress(points=3, max_points=10, elapsed=1.0, uncertainty=float("nan"), decisions=1)
    )
    bar.update(Progress(points=7, max_points=10, elapsed=2.0, uncertainty=0.0123, decisions=4))
    bar.update(Progress(points=7, max_points=10, elapsed=2.5, uncertainty=0.01, decisions=4))
    bar.close("target_uncertainty")
    text = out.getvalue()
    assert "7/10" in text
    assert "max std 0.0123" in text
    assert "autonomous (target_uncertainty)" in text
