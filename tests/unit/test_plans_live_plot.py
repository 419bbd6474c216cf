"""Maps drawn with the Agg backend into PNG files."""

from __future__ import annotations

import threading
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from gpsteer import Agent
from gpsteer.callbacks import LiveAgentPlot, plot_map
from gpsteer.callbacks.live_plot import predict_map
from gpsteer.errors import ConfigurationError

matplotlib.use("Agg")

PNG = b"\x89PNG\r\n\x1a\n"


def _agent(bounds: list[tuple[float, float]], n: int) -> Agent:
    rng = np.random.default_rng(0)
    lo, hi = np.array(bounds).T
    X = rng.uniform(lo, hi, size=(n, len(bounds)))
    agent = Agent(bounds=bounds, seed=0, train_schedule="never")
    agent.tell(X, np.sin(3 * X).sum(axis=1))
    return agent


def test_a_1d_map_shows_mean_band_and_points(tmp_path: Path) -> None:
    agent = _agent([(0.0, 2.0)], 7)
    space = [{"motor": "theta", "field": "theta", "lo": 0.0, "hi": 2.0}]
    figure = plot_map(agent, space, grid=20)
    (ax,) = figure.axes
    assert ax.get_xlabel() == "theta"
    assert len(ax.lines[1].get_xdata()) == 7  # the measured points
    figure.savefig(tmp_path / "map1d.png")
    assert (tmp_path / "map1d.png").read_bytes()[:8] == PNG


def test_a_2d_map_has_mean_and_std_panels(tmp_path: Path) -> None:
    agent = _agent([(0.0, 1.0), (-1.0, 1.0)], 12)
    space = [
        {"motor": "x", "field": "x", "lo": 0.0, "hi": 1.0},
        {"motor": "y", "field": "y", "lo": -1.0, "hi": 1.0},
    ]
    data = predict_map(agent, space, grid=15)
    assert data.mean.shape == data.std.shape == (225,)
    assert np.all(data.std >= 0)
    figure = plot_map(agent, space, grid=15, title="two panels")
    titles = [ax.get_title() for ax in figure.axes if ax.get_title()]
    assert titles == ["posterior mean", "posterior std"]
    assert figure.get_suptitle() == "two panels"


def test_three_axes_are_refused() -> None:
    agent = _agent([(0, 1)] * 3, 5)
    space = [{"motor": f"m{i}", "field": f"m{i}", "lo": 0, "hi": 1} for i in range(3)]
    with pytest.raises(ConfigurationError, match="1-D and 2-D"):
        plot_map(agent, space)
    with pytest.raises(ConfigurationError, match="3 motors"):
        LiveAgentPlot().attach(agent, space)


def test_the_live_plot_draws_the_newest_map_in_the_background(tmp_path: Path) -> None:
    agent = _agent([(0.0, 2.0)], 4)
    live = LiveAgentPlot(tmp_path / "live.png", min_interval=0.0, grid=10)
    live.attach(agent, [{"motor": "m", "field": "m", "lo": 0.0, "hi": 2.0}])
    live("stop", {})
    live.wait(timeout=60)
    assert live.redraws == 1
    assert (tmp_path / "live.png").read_bytes()[:8] == PNG
    assert live.figure.get_suptitle() == "4 points measured"


def test_the_live_plot_predicts_off_the_loop_from_the_agent_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent = _agent([(0.0, 2.0), (0.0, 1.0)], 12)
    calls: list[tuple[str, int]] = []
    predict = Agent.predict

    def recording_predict(self, Xq):  # the real prediction, noting its thread and data
        calls.append((threading.current_thread().name, self.n))
        return predict(self, Xq)

    monkeypatch.setattr(Agent, "predict", recording_predict)
    space = [
        {"motor": "m1", "field": "m1", "lo": 0.0, "hi": 2.0},
        {"motor": "m2", "field": "m2", "lo": 0.0, "hi": 1.0},
    ]
    live = LiveAgentPlot(tmp_path / "live.png", min_interval=0.0, grid=8)
    live.attach(agent, space)
    live.redraw()  # what the loop runs on an agent event
    agent.tell([[1.0, 0.5], [0.2, 0.2]], [0.0, 0.1])  # the run goes on meanwhile
    live.wait(timeout=60)
    assert calls == [("gpsteer-live-plot", 12)]  # off the loop, on the data it was given
    assert live.figure.get_suptitle() == "12 points measured"
    live("stop", {})
    live.wait(timeout=60)
    assert calls[-1] == ("gpsteer-live-plot", 14)
    assert live.figure.get_suptitle() == "14 points measured"


@pytest.mark.parametrize("acquisition", ["map", "variance"])
def test_the_acquisition_surface_peaks_where_the_agent_goes(acquisition: str) -> None:
    bounds = [(0.0, 2.0), (0.0, 1.0)]
    rng = np.random.default_rng(3)
    X = rng.uniform([0.0, 0.0], [2.0, 1.0], size=(20, 2))
    agent = Agent(bounds=bounds, seed=0, acquisition=acquisition, train_schedule="never")
    agent.tell(X, np.sin(3 * X).sum(axis=1))
    space = [
        {"motor": "m1", "field": "m1", "lo": 0.0, "hi": 2.0},
        {"motor": "m2", "field": "m2", "lo": 0.0, "hi": 1.0},
    ]
    data = predict_map(agent, space, grid=25, acquisition=True)
    assert data.acquisition.shape == (625,)
    expected = {"map": ("coverage", "uncertainty"), "variance": ("variance",)}[acquisition]
    assert data.acquisition_label in expected
    suggestion = agent.ask(1)
    at_chosen, _ = agent.acquisition_surface(suggestion.points)
    np.testing.assert_allclose(at_chosen, suggestion.values, rtol=1e-9)  # what it scored
    if acquisition == "variance":  # polished by gradient: no grid point beats it
        assert at_chosen[0] >= data.acquisition.max() * (1 - 1e-6)
