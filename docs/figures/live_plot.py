"""Draw the live plot of a short autonomous run (the docs build runs this).

``python docs/figures/live_plot.py [OUT]`` runs ``autonomous_plan`` for 40 points on
ophyd.sim motors over a sample with a curved grain boundary, with a
:class:`~gpsteer.callbacks.LiveAgentPlot` that saves its last frame to ``OUT``
(default ``docs/_static/generated/live_plot.png``): the map, its uncertainty, the
acquisition of the next decision with the latest point on it, and the stop criterion.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np
from bluesky import RunEngine
from ophyd.sim import SynSignal, motor1, motor2

from gpsteer import Agent
from gpsteer.callbacks import LiveAgentPlot
from gpsteer.plans import autonomous_plan

OUT = Path(__file__).resolve().parents[1] / "_static" / "generated" / "live_plot.png"


def sample(x: float, y: float) -> float:
    """Two grains with different gradients, separated by a curved boundary."""
    upper = y > 0.45 + 0.15 * np.sin(3.0 * x)
    return float(np.where(upper, 1.0 + 0.3 * x, 0.2 * y))


def draw(out: Path = OUT, points: int = 40) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    detector = SynSignal(func=lambda: sample(motor1.position, motor2.position), name="det")
    engine = RunEngine(context_managers=[])
    live = LiveAgentPlot(out, min_interval=1e9, grid=50)  # the final frame only
    agent = Agent(bounds=[(0.0, 1.0), (0.0, 1.0)], seed=0)
    try:
        engine(
            autonomous_plan(
                [detector],
                {motor1: (0.0, 1.0), motor2: (0.0, 1.0)},
                target="det",
                agent=agent,
                max_points=points,
                live_plot=live,
                progress=False,
            )
        )
        live.wait(timeout=300)
    finally:
        agent.close()
        engine.loop.call_soon_threadsafe(engine.loop.stop)
    return out


if __name__ == "__main__":
    print(draw(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT))
