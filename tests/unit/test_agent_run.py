"""agent.run(instrument, ...) stopping criteria, and the bluesky-adaptive Optimizer protocol."""

from __future__ import annotations

import numpy as np
import pytest

from gpsteer import Agent, TrainingSchedule
from gpsteer.acquisition import OptimizerSettings, UpperConfidenceBound
from gpsteer.agent.stopping import StopReason, initial_design_size
from gpsteer.errors import InputError

BOUNDS = [(0.0, 1.0), (0.0, 1.0)]
FAST = OptimizerSettings(n_candidates=64, n_starts=2, max_iter=20)


def peak(X: np.ndarray) -> np.ndarray:
    return np.exp(-((X[:, 0] - 0.7) ** 2 + (X[:, 1] - 0.3) ** 2) / 0.05)


def make_agent(**kwargs) -> Agent:
    kwargs.setdefault("seed", 0)
    kwargs.setdefault("train_schedule", "never")
    kwargs.setdefault("optimizer", FAST)
    return Agent(BOUNDS, **kwargs)


class Instrument:
    """Counts calls and batch sizes; optionally reports variances."""

    def __init__(self, with_variance: bool = False) -> None:
        self.batches: list[int] = []
        self.with_variance = with_variance

    def __call__(self, points: np.ndarray):
        self.batches.append(len(points))
        y = peak(points)
        return (y, np.full(len(y), 1e-4)) if self.with_variance else y


def test_run_stops_at_the_point_budget_with_an_initial_design_first():
    agent, instrument = make_agent(), Instrument()
    result = agent.run(instrument, max_points=13, batch_size=3, progress=False)
    assert initial_design_size(2) == 8  # the plan's rule: max(4, 4 d)
    assert instrument.batches == [8, 3, 2]  # last batch trimmed to the budget
    assert result.n_measured == agent.n == 13 and result.stop_reason is StopReason.MAX_POINTS
    assert result.n_batches == 3 and result.suggestions[0].acquisition == "initial_design"


def test_run_passes_variances_on():
    agent = make_agent()
    agent.run(Instrument(with_variance=True), max_points=6, progress=False)
    np.testing.assert_allclose(agent.state().arrays["noise_variance"], 1e-4)


def test_run_stops_on_a_predicate_and_continues_from_existing_data():
    agent = make_agent()
    seen = []

    def enough(agent, progress):
        seen.append(progress)
        return agent.n >= 10

    result = agent.run(Instrument(), stop_when=enough, progress=False)
    assert result.stop_reason == "stop_when" and agent.n == 10
    assert [p.points for p in seen] == [0, 8, 9, 10] and seen[-1].decisions == 3
    result = agent.run(Instrument(), max_points=2, progress=False)  # no new initial design
    assert agent.n == 12 and result.suggestions[0].acquisition == "map"


def test_a_one_argument_stop_when_still_works_with_a_deprecation_warning():
    agent = make_agent()
    with pytest.warns(DeprecationWarning, match="stop_when\\(agent, progress\\)") as record:
        result = agent.run(Instrument(), stop_when=lambda a: a.n >= 8, progress=False)
    assert result.stop_reason is StopReason.STOP_WHEN and agent.n == 8
    assert record[0].filename == __file__  # points at the caller


def test_run_stops_on_target_uncertainty():
    agent = make_agent()
    agent.run(Instrument(), max_points=4, progress=False)
    level = agent.max_uncertainty()
    result = agent.run(Instrument(), max_points=50, target_uncertainty=2 * level, progress=False)
    assert result.stop_reason == "target_uncertainty" and result.n_measured == 0
    assert result.max_uncertainty == level  # a query: same model, same answer


def test_run_rejects_a_bad_instrument():
    agent = make_agent()
    with pytest.raises(InputError, match="one value per point"):
        agent.run(lambda X: np.zeros(len(X) + 1), max_points=4, progress=False)
    assert agent.n == 0
    with pytest.raises(InputError, match="NaN"):
        agent.run(lambda X: np.full(len(X), np.nan), max_points=4, progress=False)
    assert agent.n == 0


def test_run_shows_progress(capsys):
    make_agent().run(Instrument(), max_points=5, progress=True)
    assert "5/5" in capsys.readouterr().err


# ---------------------------------------------------------------------- Optimizer protocol
def test_suggest_ingest_round_trip_with_named_dimensions():
    agent = make_agent(dimension_names=["sample_x", "sample_y"], value_name="intensity")
    first = agent.suggest(4)
    assert [set(p) for p in first] == [{"_id", "sample_x", "sample_y"}] * 4
    assert len({p["_id"] for p in first}) == 4
    second = agent.suggest(2)  # the first batch is pending: avoided, ids stay unique
    assert len({p["_id"] for p in first + second}) == 6
    xy = np.array([[p["sample_x"], p["sample_y"]] for p in first + second])
    assert len(np.unique(xy.round(9), axis=0)) == 6
    measured = [
        {**p, "intensity": float(peak(np.array([[p["sample_x"], p["sample_y"]]]))[0])}
        for p in first
    ]
    agent.ingest(measured)
    assert agent.n == 4
    assert sorted(i for i, _ in agent.state().metadata["pending"]) == [p["_id"] for p in second]


def test_ingest_accepts_external_points_and_variances():
    agent = make_agent()
    agent.ingest([{"x0": 0.1, "x1": 0.2, "y": 1.0, "y_variance": 0.01}])
    agent.ingest({"x0": 0.5, "x1": 0.5, "y": 2.0, "y_variance": 0.01})
    assert agent.n == 2
    with pytest.raises(InputError, match="every point"):
        agent.ingest(
            [{"x0": 0.3, "x1": 0.3, "y": 1.0}, {"x0": 0.4, "x1": 0.4, "y": 1.0, "y_variance": 0.1}]
        )
    assert agent.n == 2


@pytest.mark.parametrize(("acquisition", "sign"), [("ucb", 1.0), ("lcb", -1.0)])
def test_get_best_points_follows_the_direction(acquisition, sign):
    agent = make_agent(acquisition=acquisition)
    X = np.random.default_rng(2).uniform(size=(30, 2))
    agent.tell(X, sign * peak(X))
    ((point_id, parameters, outcomes),) = agent.get_best_points()
    target = np.argmax(peak(X))  # the peak for ucb; the bottom of -peak for lcb
    assert [parameters["x0"], parameters["x1"]] == pytest.approx(X[target].tolist())
    assert outcomes["y"] == pytest.approx(sign * peak(X)[target])
    assert point_id == agent.point_ids[target]


def test_optimizing_loop_through_the_protocol_finds_the_peak():
    schedule = TrainingSchedule(n_starts=2, n_starts_warm=1, max_iter=50)
    agent = make_agent(acquisition=UpperConfidenceBound(beta=1.0), train_schedule=schedule)
    for _ in range(8):
        batch = agent.suggest(3)
        agent.ingest([{**p, "y": float(peak(np.array([[p["x0"], p["x1"]]]))[0])} for p in batch])
    ((_, best, _),) = agent.get_best_points()
    assert np.hypot(best["x0"] - 0.7, best["x1"] - 0.3) < 0.1


def test_outcomes_by_id_alone_take_the_position_of_their_suggestion():
    agent = make_agent()
    first, second = agent.suggest(2)
    agent.ingest([{"_id": first["_id"], "y": 1.5}])  # what bluesky-adaptive's optimize sends
    assert agent.X[0].tolist() == [first["x0"], first["x1"]] and agent.y[0] == 1.5
    with pytest.raises(InputError, match="not a pending suggestion"):
        agent.ingest([{"_id": first["_id"], "y": 2.0}])  # already measured
    with pytest.raises(InputError, match="no '_id'"):
        agent.ingest([{"y": 2.0}])
    assert agent.n == 1 and list(agent.optimizer.pending) == [second["_id"]]


def test_suggestions_from_elsewhere_are_registered_and_failures_released():
    agent = make_agent()
    (mine,) = agent.suggest(1)
    theirs = agent.register_suggestions([{"x0": 0.25, "x1": 0.75, "_id": "ignored"}])
    assert theirs == [{"x0": 0.25, "x1": 0.75, "_id": mine["_id"] + 1}]
    assert sorted(agent.optimizer.pending) == [mine["_id"], mine["_id"] + 1]
    agent.register_failures([mine])  # its acquisition failed: not pending any more
    assert list(agent.optimizer.pending) == [mine["_id"] + 1]
    agent.ingest([{"_id": theirs[0]["_id"], "y": 0.5}])
    assert agent.X.tolist() == [[0.25, 0.75]] and not agent.optimizer.pending
    with pytest.raises(InputError, match="lacks key"):
        agent.register_suggestions([{"x0": 0.1}])
    with pytest.raises(InputError, match="outside"):
        agent.register_suggestions([{"x0": 5.0, "x1": 0.5}])
