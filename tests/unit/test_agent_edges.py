"""The default agent on samples with known edges: where it puts the edge, what it records,
how it restores, and when it reports interpolation instead of its model."""

from __future__ import annotations

import warnings
from concurrent.futures import Future

import numpy as np
import pytest
from scipy.interpolate import griddata

from gpsteer import Agent
from gpsteer.errors import TrainingWarning
from gpsteer.gp.kernels import Matern, ScaleKernel
from gpsteer.training import Trainer

NOISE = 1e-4  # variance


def boundary(x: np.ndarray) -> np.ndarray:
    return 0.5 + 0.12 * np.sin(2 * np.pi * x)


def step(X: np.ndarray) -> np.ndarray:
    """Two regions with different slopes, split by a curved sharp edge."""
    above = X[:, 1] > boundary(X[:, 0])
    return np.where(above, 1.0 + 0.3 * X[:, 0], 0.2 * X[:, 1])


def disc(X: np.ndarray) -> np.ndarray:
    return np.where(np.hypot(X[:, 0] - 0.5, X[:, 1] - 0.5) < 0.25, 1.0, 0.0)


def run_agent(field, n: int, seed: int = 0) -> Agent:
    rng = np.random.default_rng(seed)
    agent = Agent([(0, 1), (0, 1)], seed=seed)
    while agent.n < n:
        points = agent.ask(8 if agent.n == 0 else 1).points
        y = field(points) + np.sqrt(NOISE) * rng.standard_normal(len(points))
        agent.tell(points, y, noise_variance=np.full(len(points), NOISE))
    return agent


@pytest.fixture(scope="module")
def step_agent() -> Agent:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrainingWarning)
        return run_agent(step, 150)


def crossing_errors(agent: Agent) -> np.ndarray:
    """Along vertical lines, how far the map's first crossing of the midpoint between the
    two sides lies from the true edge."""
    xs = np.linspace(0.05, 0.95, 19)
    ys = np.linspace(0.0, 1.0, 801)
    errors = []
    for x in xs:
        line = np.column_stack([np.full_like(ys, x), ys])
        mean = agent.predict(line).mean
        b = boundary(np.array([x]))[0]
        mid = 0.5 * (0.2 * b + 1.0 + 0.3 * x)  # halfway between the two sides at the edge
        crossing = ys[np.argmax(mean > mid)]
        errors.append(abs(crossing - b))
    return np.array(errors)


@pytest.mark.slow
def test_the_edge_of_a_step_is_located(step_agent):
    assert np.mean(crossing_errors(step_agent)) < 0.02  # a 50 x 50 raster's spacing is 0.02


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="known defect: the ARD base learns a long length scale along x (1.85 box widths "
    "here) and carries the upper grain sideways into the lower one, away from data: a ghost "
    "at (0.55, 0.37), 0.087 from the edge on one of 19 lines (seed 0, 150 points)",
)
def test_no_line_misplaces_the_edge(step_agent):
    assert np.max(crossing_errors(step_agent)) < 0.05


@pytest.mark.slow
def test_points_concentrate_along_the_edge_and_still_cover(step_agent):
    X = step_agent.X
    near = np.abs(X[:, 1] - boundary(X[:, 0])) < 0.05  # a band of 10 % of the area
    assert near.mean() > 0.25
    # coverage: no 0.2 x 0.2 cell of the sample is left without a point
    cells = {(int(a * 5), int(b * 5)) for a, b in np.clip(X, 0, 0.999)}
    assert len(cells) == 25


@pytest.mark.slow
def test_decisions_say_why(step_agent):
    suggestion = step_agent.ask(1)
    (terms,) = suggestion.terms
    assert terms["reason"] in ("coverage", "uncertainty")
    assert {"std", "gap", "widest_gap", "gap_floor", "edge_strength"} <= set(terms)
    assert step_agent.snapshot()["structure"]["n_points"] <= step_agent.n


@pytest.fixture(scope="module")
def disc_errors() -> np.ndarray:
    """Along 36 rays from the centre, how far the map's crossing of 0.5 lies from the rim."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrainingWarning)
        agent = run_agent(disc, 120, seed=1)
    angles = np.linspace(0, 2 * np.pi, 36, endpoint=False)
    radii = np.linspace(0.0, 0.45, 451)
    found = []
    for a in angles:
        ray = 0.5 + np.column_stack([radii * np.cos(a), radii * np.sin(a)])
        mean = agent.predict(ray).mean
        found.append(radii[np.argmax(mean < 0.5)])
    return np.abs(np.array(found) - 0.25)


@pytest.mark.slow
def test_a_disc_is_traced(disc_errors):
    """The rim within a 50 x 50 raster's spacing (0.02) on the median ray, and within half
    the spacing of a raster with as many points (11 x 11: 0.09) on 90 % of the rays."""
    assert np.median(disc_errors) < 0.02
    assert np.mean(disc_errors < 0.045) >= 0.9


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="known defect (as for the step): 3 rays of 36 cross ghosts of the disc "
    "0.07-0.18 from the rim, away from data (seed 1, 120 points)",
)
def test_no_ray_misplaces_the_rim(disc_errors):
    assert np.max(disc_errors) < 0.05


@pytest.mark.slow
def test_state_and_snapshot_rebuild_the_edges_exactly(step_agent):
    query = np.random.default_rng(5).uniform(0, 1, (200, 2))
    expected = step_agent.predict(query)
    for rebuilt in (
        Agent.from_state(step_agent.state()),
        Agent.from_snapshot(
            step_agent.configuration(),
            step_agent.snapshot(),
            step_agent.X,
            step_agent.y,
            noise_variance=np.full(step_agent.n, NOISE),
        ),
    ):
        got = rebuilt.predict(query)  # an incremental factor against a fresh one: rounding
        np.testing.assert_allclose(got.mean, expected.mean, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(got.variance, expected.variance, rtol=1e-8, atol=1e-14)
        assert rebuilt.snapshot()["structure"] == step_agent.snapshot()["structure"]


def test_a_model_that_cannot_represent_the_field_gives_way_to_interpolation():
    """A kernel fixed far too smooth for a stripe pattern: its held-out predictions are
    worse than interpolation's, so the agent reports the interpolated map, and says so."""
    rng = np.random.default_rng(3)
    X = rng.uniform(0, 1, (200, 2))
    y = np.sin(4 * np.pi * X[:, 0]) + 0.05 * X[:, 1]
    smooth = ScaleKernel(Matern(lengthscale=2.0, fixed=True))
    agent = Agent([(0, 1), (0, 1)], kernel=smooth, train_schedule="never", seed=0)
    with pytest.warns(TrainingWarning, match="worse than interpolation"):
        agent.tell(X, y, noise_variance=np.full(200, NOISE))
    check = agent.map_check
    assert check is not None and check.uses_interpolation
    assert check.model_rmse > 1.1 * check.interpolation_rmse
    query = rng.uniform(0.1, 0.9, (100, 2))
    expected = griddata(X, y, query, method="linear")
    np.testing.assert_allclose(agent.predict(query).mean, expected, rtol=1e-10, atol=1e-12)
    assert agent.snapshot()["map_check"]["uses_interpolation"] is True


def test_a_model_that_fits_keeps_its_own_map():
    rng = np.random.default_rng(4)
    X = rng.uniform(0, 1, (120, 2))
    y = np.sin(3 * X[:, 0]) * np.cos(2 * X[:, 1])
    agent = Agent([(0, 1), (0, 1)], seed=0)
    agent.tell(X, y, noise_variance=np.full(120, NOISE))
    agent.train()
    assert agent.map_check is not None and not agent.map_check.uses_interpolation
    query = rng.uniform(0, 1, (50, 2))
    assert not np.allclose(agent.predict(query).mean, griddata(X, y, query, method="linear"))


class HeldTrainer(Trainer):
    """A background trainer whose jobs finish only when the test says so (as a Dask job
    that takes longer than the points do)."""

    backend = "held"

    def __init__(self) -> None:
        self.jobs: list[tuple[Future, object]] = []

    def submit(self, spec):
        future: Future = Future()
        future.set_running_or_notify_cancel()
        self.jobs.append((future, spec))
        return future

    def finish(self) -> None:
        for future, spec in self.jobs:
            if not future.done():
                future.set_result(self.run(spec))


def test_the_edges_are_read_while_a_background_job_runs():
    """With Dask a training job is nearly always in flight; the edges must not wait for it,
    and the job's result is then judged on the model with its new edges."""
    trainer = HeldTrainer()
    agent = Agent([(0, 1), (0, 1)], training=trainer, seed=0)
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, (40, 2))
    agent.tell(X, step(X), noise_variance=np.full(40, NOISE))
    assert len(trainer.jobs) == 1 and agent.training_future is not None

    def tell(n: int) -> None:
        more = rng.uniform(0, 1, (n, 2))
        agent.tell(more, step(more), noise_variance=np.full(n, NOISE))

    tell(20)  # training is due again, but the model has not been trained yet: no edges
    assert len(trainer.jobs) == 1 and agent.snapshot()["structure"] is None
    trainer.finish()
    tell(1)  # the job is taken in; the edges are read before the next job starts
    assert len(trainer.jobs) == 2 and agent.snapshot()["structure"]["n_points"] == 61
    tell(10)  # 15 % more data while that job runs: the edges are read again
    assert len(trainer.jobs) == 2 and agent.training_future is not None
    assert agent.snapshot()["structure"]["n_points"] == 71
    tell(5)  # and not at every point (training stays due while the job runs)
    assert agent.snapshot()["structure"]["n_points"] == 71
    trainer.finish()
    agent.poll_training()
    status = agent.training_status()
    assert status.n_accepted + status.n_rejected == 2  # taken in, judged on the new edges
