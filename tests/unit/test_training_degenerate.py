"""Issue 14, item 7: training must not keep a model that explains structured data as noise.

The reported case, in the order it happened: an agent optimising a smooth peak first
measured only the flat far field, so training found (correctly, then) that everything
was noise: output scale at its lower bound. Then it reached the peak, while a training
job that started on the flat readings was out. Taken in on the new data, that job's
all-noise result beat the current, equally all-noise model on likelihood, and was kept:
``get_best_points()`` showed a measured 0.95 next to a predicted mean near 0. Here the
job is a real one (the inline trainer runs it at submission, on the snapshot it was
given); the peak readings arrive before it is taken in, as with a Dask job in flight.
"""

from __future__ import annotations

from concurrent.futures import Future

import numpy as np
import pytest

from gpsteer import Agent
from gpsteer.gp import GaussianProcess
from gpsteer.training import JobResult, JobSpec, Trainer, TrainingManager
from gpsteer.training.jobs import run_job
from gpsteer.training.scoring import LOO_TOLERANCE, choose_candidate, log_likelihood_at

BOUNDS = [(-2.0, 2.0), (-2.0, 2.0)]
PEAK = np.array([0.3, -0.2])


def peak(X: np.ndarray) -> np.ndarray:
    return np.exp(-np.sum((X - PEAK) ** 2, axis=1) / (2 * 0.4**2))


def far_field(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Readings where the peak does not reach: noise around zero."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2.0, 2.0, (4 * n, 2))
    X = X[np.linalg.norm(X - PEAK, axis=1) > 1.6][:n]
    return X, peak(X) + 0.01 * rng.standard_normal(n)


def on_the_peak(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = PEAK + 0.1 * rng.standard_normal((n, 2))
    return X, peak(X) + 0.01 * rng.standard_normal(n)


def climbing_the_peak(seed: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Three readings on the way up, as the reported agent measured them (0.1, 0.5, 0.95)."""
    X = PEAK + np.array([[-0.8, 0.5], [-0.45, 0.2], [0.01, -0.01]])
    return X, peak(X) + 0.01 * np.random.default_rng(seed).standard_normal(3)


class HeldTrainer(Trainer):
    """Runs each job at submission, on the snapshot it is given, and reports it only when
    :meth:`release` is called: a Dask job in flight, without the timing."""

    backend = "held"

    def __init__(self) -> None:
        self.held: list[tuple[Future[JobResult], JobResult]] = []

    def submit(self, spec: JobSpec) -> Future[JobResult]:
        future: Future[JobResult] = Future()
        future.set_running_or_notify_cancel()
        self.held.append((future, run_job(spec)))
        return future

    def release(self) -> int:
        held, self.held = self.held, []
        for future, result in held:
            future.set_result(result)
        return len(held)


def all_noise(agent: Agent) -> bool:
    return agent.gp.hyperparameters()["kernel.outputscale"][0] < 1e-3


def test_an_all_noise_model_is_not_taken_in_once_the_data_show_a_peak() -> None:
    """The reported run, as bluesky-adaptive's ``optimize`` drives an agent (suggest, then
    ingest the reading), one point at a time; the first training job is held (run on the
    readings it was given, reported later) until the agent has reached the peak."""
    trainer = HeldTrainer()
    agent = Agent(bounds=BOUNDS, training=trainer, acquisition="ucb", seed=1, value_name="det")
    released = False
    for step in range(30):
        (point,) = agent.suggest(1)
        x = np.array([[point["x0"], point["x1"]]])
        point["det"] = float(peak(x)[0] + 0.01 * np.random.default_rng(step).standard_normal())
        agent.ingest([point])
        if not released and agent.y.max() > 0.9:  # the peak is reached: the job comes back
            assert trainer.release() == 1
            released = True
            agent.poll_training()
            status = agent.training_status()
            assert status.n_jobs >= 1 and not all_noise(agent), agent.gp.hyperparameters()
    assert released
    ((_, _, best),) = agent.get_best_points()
    assert best["predicted_mean"] == pytest.approx(best["det"], abs=0.15), best


def test_a_higher_likelihood_is_refused_when_the_leave_one_out_error_is_much_worse() -> None:
    gp = GaussianProcess(input_bounds=BOUNDS)
    X_far, y_far = far_field(19)
    X_peak, y_peak = on_the_peak(4)
    gp.set_data(np.vstack([X_far, X_peak]), np.concatenate([y_far, y_peak]))
    gp.fit()
    structured = gp.theta.detach().numpy().copy()
    gp.set_hyperparameters({"kernel.outputscale": [1e-4], "noise.variance": [1.0]})
    noise_only = gp.theta.detach().numpy().copy()
    gp.set_theta(structured)
    current = log_likelihood_at(gp, structured)
    # Pretend the all-noise candidate scored higher: only the leave-one-out check stops it.
    candidates = [(noise_only, current + 10.0)]
    best, accepted, reason = choose_candidate(gp, candidates, structured, current)
    assert best is not None and not accepted
    assert reason is not None and "leave-one-out" in reason and "noise" in reason
    # and a candidate as good held-out is accepted
    candidates = [(structured, current + 10.0)]
    best, accepted, reason = choose_candidate(gp, candidates, noise_only, current)
    assert accepted and reason is None


@pytest.mark.parametrize("tolerance", [LOO_TOLERANCE])
def test_tolerance_leaves_room_for_ordinary_improvements(tolerance: float) -> None:
    """On structured data, training from the defaults is accepted (the check does not
    stand in the way of an ordinary fit)."""
    gp = GaussianProcess(input_bounds=BOUNDS)
    rng = np.random.default_rng(3)
    X = rng.uniform(-2, 2, (40, 2))
    gp.set_data(X, peak(X) + 0.01 * rng.standard_normal(40))
    manager = TrainingManager("inline", seed=0)
    result = manager.train_now(gp)
    assert result.status.name == "IMPROVED" and tolerance >= 1.0
