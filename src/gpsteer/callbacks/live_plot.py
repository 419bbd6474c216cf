"""Draw an agent's map: posterior mean, standard deviation and the measured points.

:func:`plot_map` draws one figure (1-D: mean with a ±2σ band; 2-D: a mean panel
and a std panel), used by the replay CLI. :class:`LiveAgentPlot` is a document
callback that redraws it as an autonomous run goes, and can write a PNG each
time (the way to watch a run with a non-interactive backend such as Agg).

Callbacks run on the RunEngine's loop, so the live plot only takes a view of the
agent there; it predicts and draws in a background thread, at most every
``min_interval``.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from gpsteer.errors import ConfigurationError, InputError
from gpsteer.schema.agent_stream import STREAM, DecisionRecord
from gpsteer.schema.run_start import KEY, RunStart

__all__ = ["LiveAgentPlot", "MapData", "draw_map", "plot_map", "predict_map"]


def _axes_of(space: Any) -> tuple[list[str], np.ndarray]:
    """Names and ``(d, 2)`` bounds from a Space, a :class:`~gpsteer.schema.RunStart`, or
    the start document's ``gpsteer.space`` list."""
    if isinstance(space, RunStart):
        return list(space.motors), space.bounds
    if hasattr(space, "bounds") and hasattr(space, "names"):
        return list(space.names), np.asarray(space.bounds, dtype=np.float64)
    entries = list(space)
    if entries and isinstance(entries[0], Mapping):
        axes = RunStart.from_start({KEY: {"space": entries, "agent": {}}})
        return list(axes.motors), axes.bounds
    raise InputError("space must be a Space or the start document's gpsteer.space list")


@dataclass(frozen=True)
class MapData:
    """A posterior evaluated on a grid, ready to draw (no agent needed any more)."""

    names: tuple[str, ...]
    bounds: np.ndarray
    X: np.ndarray
    y: np.ndarray
    axes: tuple[np.ndarray, ...]
    mean: np.ndarray
    std: np.ndarray
    #: the acquisition on the grid as the next decision scores it, and what it is
    acquisition: np.ndarray | None = None
    acquisition_label: str = ""
    #: the points of the latest decision (its batch), ``(k, d)``
    chosen: np.ndarray | None = None
    #: the stop criterion's trend: points held and the largest std at each decision
    trend: tuple[np.ndarray, np.ndarray] | None = None


def predict_map(agent: Any, space: Any, *, grid: int = 60, acquisition: bool = False) -> MapData:
    """Evaluate ``agent``'s posterior (and, with ``acquisition``, its acquisition) on a
    grid over a 1-D or 2-D space.

    The only step of drawing that touches the agent (milliseconds for a few hundred
    points, seconds for a 60 x 60 grid of a large map).
    """
    names, bounds = _axes_of(space)
    if len(names) not in (1, 2):
        raise ConfigurationError(
            f"maps are drawn for 1-D and 2-D spaces; this one has {len(names)} axes. Plot a "
            "slice with agent.predict on your own grid"
        )
    if grid < 2:
        raise InputError(f"grid must be at least 2, got {grid}")
    if len(names) == 1:
        axes: tuple[np.ndarray, ...] = (np.linspace(bounds[0, 0], bounds[0, 1], grid * 4),)
        points = axes[0][:, None]
    else:
        axes = tuple(np.linspace(b[0], b[1], grid) for b in bounds)
        points = np.stack(np.meshgrid(*axes, indexing="xy"), axis=-1).reshape(-1, 2)
    post = agent.predict(points)
    surface, label = agent.acquisition_surface(points) if acquisition else (None, "")
    return MapData(
        names=tuple(names),
        bounds=bounds,
        X=np.asarray(agent.X, dtype=np.float64),
        y=np.asarray(agent.y, dtype=np.float64),
        axes=axes,
        mean=np.asarray(post.mean, dtype=np.float64),
        std=np.sqrt(np.maximum(np.asarray(post.variance, dtype=np.float64), 0.0)),
        acquisition=surface,
        acquisition_label=label,
    )


def draw_map(data: MapData, figure: Any = None, *, title: str | None = None) -> Any:
    """Draw ``data`` (1-D: mean and ±2σ band; 2-D: mean and std panels; the acquisition
    and the stop criterion's trend when ``data`` has them); return the Figure."""
    from matplotlib.figure import Figure

    rows = 2 if data.acquisition is not None or data.trend is not None else 1
    size = (10, 4.2 * rows)
    fig = figure if figure is not None else Figure(figsize=size, layout="constrained")
    fig.clear()
    if len(data.names) == 1:
        _draw_1d(fig, data)
    else:
        _draw_2d(fig, data)
    fig.suptitle(title or f"{len(data.X)} points measured")
    return fig


def plot_map(
    agent: Any,
    space: Any,
    *,
    figure: Any = None,
    grid: int = 60,
    title: str | None = None,
) -> Any:
    """Draw ``agent``'s posterior over a 1-D or 2-D space; return the matplotlib Figure.

    Parameters
    ----------
    agent : Agent
        An agent with data (``predict``, ``X``, ``y``).
    space : Space or list of dict
        Axis names and bounds (a :class:`~gpsteer.plans.space.Space` or a
        run's ``start["gpsteer"]["space"]``).
    figure : matplotlib.figure.Figure, optional
        Drawn into after clearing it; default a new figure (no pyplot needed).
    grid : int
        Prediction points per axis.
    """
    return draw_map(predict_map(agent, space, grid=grid), figure, title=title)


def _draw_1d(fig: Any, data: MapData) -> None:
    rows = 1 + (data.acquisition is not None) + (data.trend is not None)
    ax = fig.add_subplot(rows, 1, 1)
    xs, mean, std = data.axes[0], data.mean, data.std
    ax.plot(xs, mean, color="C0", label="posterior mean")
    ax.fill_between(xs, mean - 2 * std, mean + 2 * std, color="C0", alpha=0.25, label="±2 std")
    ax.plot(data.X[:, 0], data.y, "o", color="k", markersize=3, label="measured")
    ax.set_xlabel(data.names[0])
    ax.set_ylabel("target")
    ax.legend(loc="best", fontsize="small")
    row = 1
    if data.acquisition is not None:
        row += 1
        ax = fig.add_subplot(rows, 1, row)
        ax.plot(xs, data.acquisition, color="C2")
        if data.chosen is not None:
            for x in data.chosen[:, 0]:
                ax.axvline(x, color="C3", linestyle="--", linewidth=1)
        ax.set_xlabel(data.names[0])
        ax.set_ylabel(_acquisition_title(data))
    if data.trend is not None:
        _draw_trend(fig.add_subplot(rows, 1, row + 1), data.trend)


def _draw_2d(fig: Any, data: MapData) -> None:
    b = data.bounds
    extent = (b[0, 0], b[0, 1], b[1, 0], b[1, 1])
    shape = (len(data.axes[1]), len(data.axes[0]))
    panels = [("posterior mean", data.mean, "viridis"), ("posterior std", data.std, "magma")]
    if data.acquisition is not None:
        panels.append((_acquisition_title(data), data.acquisition, "cividis"))
    rows = 1 if len(panels) == 2 and data.trend is None else 2
    for i, (label, values, cmap) in enumerate(panels):
        ax = fig.add_subplot(rows, 2, i + 1)
        image = ax.imshow(
            values.reshape(shape), origin="lower", extent=extent, aspect="auto", cmap=cmap
        )
        ax.plot(
            data.X[:, 0],
            data.X[:, 1],
            "o",
            color="w",
            markersize=3.5,
            markeredgecolor="k",
            markeredgewidth=0.5,
        )
        if data.chosen is not None and values is data.acquisition:
            ax.plot(data.chosen[:, 0], data.chosen[:, 1], "*", color="C3", markersize=12,
                    markeredgecolor="w", label="latest choice")  # fmt: skip
            ax.legend(loc="upper right", fontsize="small")
        ax.set_xlabel(data.names[0])
        ax.set_ylabel(data.names[1])
        ax.set_title(label)
        fig.colorbar(image, ax=ax, shrink=0.9)
    if data.trend is not None:
        _draw_trend(fig.add_subplot(rows, 2, 4), data.trend)


def _acquisition_title(data: MapData) -> str:
    return f"acquisition ({data.acquisition_label})" if data.acquisition_label else "acquisition"


def _draw_trend(ax: Any, trend: tuple[np.ndarray, np.ndarray]) -> None:
    """The stop criterion's signal: the largest posterior std at each decision."""
    points, largest = trend
    ax.plot(points, largest, ".-", color="C1")
    ax.set_xlabel("points measured")
    ax.set_ylabel("largest std")
    ax.set_title("stop criterion")


def _prediction_view(agent: Any) -> Any:
    """A shallow copy of ``agent`` that keeps its data and model as they are now.

    ``tell`` replaces the agent's arrays and the model's tensors instead of changing them
    in place, so the copy predicts from the data it saw while the run goes on. The
    kernel's hyperparameters are shared: a training result taken in meanwhile shows in
    the next frame it draws.
    """
    view = copy.copy(agent)
    view.gp = copy.copy(agent.gp)
    return view


def _with_decisions(data: MapData, records: list[DecisionRecord]) -> MapData:
    """``data`` with the latest decision's points and the trend of the largest std."""
    measured = [r for r in records if r.action == "measure"]
    if not measured:
        return data
    latest = [r.position for r in measured if r.decision == measured[-1].decision]
    # the largest std over the domain where the run computes it (target_uncertainty=),
    # else the std at the chosen point, which the acquisitions maximise (as the plan does)
    largest = [
        (r.n_points, r.max_uncertainty if np.isfinite(r.max_uncertainty) else r.predicted_std)
        for r in measured
    ]
    trend = [(n, value) for n, value in largest if np.isfinite(value)]
    return replace(
        data,
        chosen=np.array(latest, dtype=np.float64),
        trend=tuple(np.array(column, dtype=np.float64) for column in zip(*trend, strict=True))
        if trend
        else None,
    )


class LiveAgentPlot:
    """A callback that redraws the agent's map after each decision (and at the end).

    Pass it to :func:`~gpsteer.plans.autonomous_plan` (``live_plot=``); the plan
    attaches its agent and space and subscribes it for the run.

    Nothing slow runs on the RunEngine's loop: it only takes a view of the agent as it
    is (a shallow copy, microseconds); predicting the grid (a second or more for large
    maps) and drawing and saving run in a background thread that always draws the
    newest view and skips the ones it was too slow for.

    Parameters
    ----------
    save_path : str or Path, optional
        Write the figure there (PNG, or any format matplotlib knows by suffix)
        at each redraw.
    figure : matplotlib.figure.Figure, optional
        Draw into this figure; default a new, backend-independent Figure. An
        interactive (pyplot) figure is drawn from the background thread, which
        not every GUI backend accepts: prefer ``save_path`` or Agg.
    grid : int
        Prediction points per axis.
    min_interval : float
        Seconds between redraws during the run (the final one always happens).
    acquisition : bool
        Also draw the acquisition as the next decision scores it, the points of the
        latest decision on it, and the stop criterion's trend (the largest std at each
        decision): why the agent goes where it goes.
    """

    def __init__(
        self,
        save_path: str | Path | None = None,
        *,
        figure: Any = None,
        grid: int = 60,
        min_interval: float = 2.0,
        acquisition: bool = True,
    ) -> None:
        if min_interval < 0:
            raise InputError(f"min_interval must be >= 0 seconds, got {min_interval}")
        if grid < 2:
            raise InputError(f"grid must be at least 2, got {grid}")
        self.save_path = None if save_path is None else Path(save_path)
        self.figure = figure
        self.grid = int(grid)
        self.min_interval = float(min_interval)
        self.acquisition = bool(acquisition)
        self._motors: tuple[str, ...] = ()
        self._records: list[DecisionRecord] = []  # the run's agent stream so far
        self.agent: Any = None
        self.space: Any = None
        self.redraws = 0
        self.error: BaseException | None = None
        self._last = -np.inf
        self._agent_descriptors: set[str] = set()
        self._lock = threading.Lock()
        self._latest: Any = None  # the newest agent view not drawn yet
        self._future: Future[None] | None = None

    def attach(self, agent: Any, space: Any) -> None:
        """Use ``agent`` and ``space`` (called by the plan before the run opens)."""
        names, _ = _axes_of(space)
        if len(names) not in (1, 2):
            raise ConfigurationError(
                f"LiveAgentPlot draws 1-D and 2-D spaces; this one has {len(names)} motors. "
                "Drop live_plot= for this plan"
            )
        self.agent, self.space = agent, space

    def __call__(self, name: str, doc: Mapping[str, Any]) -> None:
        if name == "start" and KEY in doc:
            self._motors, self._records = RunStart.from_start(doc).motors, []
        elif name == "descriptor" and doc.get("name") == STREAM:
            self._agent_descriptors.add(doc["uid"])
        elif name == "event" and doc.get("descriptor") in self._agent_descriptors:
            if self._motors:
                self._records.append(DecisionRecord.from_event(doc, self._motors))
            if time.monotonic() - self._last >= self.min_interval:
                self.redraw()
        elif name == "stop":
            self.redraw()

    def redraw(self) -> None:
        """Take a view of the agent now; predict, draw (and save) in the background thread."""
        if self.agent is None or self.agent.n == 0:
            return
        view = (_prediction_view(self.agent), list(self._records))
        self._last = time.monotonic()
        with self._lock:
            self._latest = view
            if self._future is None or self._future.done():
                # A thread per burst of redraws: it ends once no newer map waits, so an
                # idle plot holds no thread.
                future: Future[None] = Future()
                self._future = future
                threading.Thread(
                    target=self._render_into, args=(future,), name="gpsteer-live-plot"
                ).start()

    def _render_into(self, future: Future[None]) -> None:
        try:
            self._render()
        except BaseException as exc:
            future.set_exception(exc)
        else:
            future.set_result(None)

    def _render(self) -> None:
        while True:
            with self._lock:
                view, self._latest = self._latest, None
            if view is None:
                return
            agent, records = view
            try:
                data = predict_map(agent, self.space, grid=self.grid, acquisition=self.acquisition)
                if self.acquisition:
                    data = _with_decisions(data, records)
                self.figure = draw_map(data, self.figure)
                if self.save_path is not None:
                    self.figure.savefig(self.save_path, dpi=90)
                else:
                    self.figure.canvas.draw_idle()
            except Exception as exc:  # shown by wait(); a plot never stops a run
                self.error = exc
                return
            self.redraws += 1

    def wait(self, timeout: float | None = None) -> None:
        """Block until the newest map is drawn (scripts, tests); raise a drawing error."""
        while True:
            with self._lock:
                future = self._future
            if future is None:
                break
            future.result(timeout=timeout)
            with self._lock:
                if self._future is future and self._latest is None:
                    break
        if self.error is not None:
            raise self.error
