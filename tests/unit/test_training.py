"""Unit tests of gpsteer.training with the inline trainer: jobs, acceptance, bookkeeping.

The inline trainer runs a job inside ``submit``, but the manager takes the result in
only at ``poll``: changing the model's data in between is exactly the situation of an
asynchronous job that finished on older data, without any cluster.
"""

from __future__ import annotations

import json
import sys
import types
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import pytest
import torch

from gpsteer.errors import InputError, NotFittedError, TrainingError, TrainingWarning
from gpsteer.gp import GaussianProcess, fit_hyperparameters
from gpsteer.gp.fit import FitStatus
from gpsteer.gp.structure import refresh_structure
from gpsteer.training import (
    DaskTrainer,
    InlineTrainer,
    JobLostError,
    JobResult,
    JobSpec,
    Trainer,
    TrainingManager,
    make_trainer,
)
from gpsteer.training.jobs import make_job, run_job
from gpsteer.training.local_cluster import main_is_guarded
from gpsteer.training.scoring import data_key, improves, log_likelihood_at, optimum_weights

BOUNDS = [(0.0, 1.0), (0.0, 1.0)]
FAST = {"n_starts": 2, "max_iter": 60}  # small jobs: these tests check logic, not optima


def smooth(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A slowly varying field (long length scales)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, (n, 2))
    return X, np.sin(2 * X[:, 0]) + 0.5 * X[:, 1] + 0.01 * rng.standard_normal(n)


def rough(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A quickly varying field (short length scales): a different optimum."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, (n, 2))
    return X, np.sin(40 * X[:, 0]) * np.cos(30 * X[:, 1]) + 0.01 * rng.standard_normal(n)


def model(X: np.ndarray, y: np.ndarray) -> GaussianProcess:
    gp = GaussianProcess(input_bounds=BOUNDS)
    gp.set_data(X, y)
    return gp


def lml(gp: GaussianProcess) -> float:
    with torch.no_grad():
        return float(gp.log_marginal_likelihood(include_prior=True))


# ---------------------------------------------------------------------- jobs
def test_job_starts_warm_then_space_filling_and_reproducible() -> None:
    gp = model(*smooth(40))
    warm = gp.theta.numpy() + 0.5
    a = make_job(gp, np.random.default_rng(3), n_starts=5, warm_starts=[warm, warm])
    b = make_job(gp, np.random.default_rng(3), n_starts=5, warm_starts=[warm])
    assert a.starts.shape == (5, gp.theta.numel())
    np.testing.assert_array_equal(a.starts[0], gp.theta.numpy())
    np.testing.assert_array_equal(a.starts[1], warm)  # duplicates dropped
    np.testing.assert_array_equal(a.starts, b.starts)
    assert a.subset is None and a.n_points == 40


def test_job_snapshot_is_independent_of_the_live_model() -> None:
    gp = model(*smooth(40))
    gp.predict(np.zeros((1, 2)))  # builds the cached factor, which must not travel
    spec = make_job(gp, np.random.default_rng(0))
    gp.append(*smooth(5, seed=9))
    gp.set_theta(gp.theta + 1.0)
    assert spec.gp.n == 40
    np.testing.assert_array_equal(spec.gp.theta.numpy(), spec.theta0)
    assert spec.gp._cache is None


def test_large_jobs_use_a_subset_for_starts() -> None:
    gp = model(*smooth(120))
    spec = make_job(gp, np.random.default_rng(0), subset_size=50)
    assert spec.subset is not None and len(set(spec.subset.tolist())) == 50
    result = run_job(spec)
    assert result.optima and result.n_points == 120
    # every returned optimum is scored on all 120 points, not on the subset
    for o in result.optima:
        assert o.neg_log_likelihood == pytest.approx(-log_likelihood_at(gp, o.theta), rel=1e-6)


def test_run_job_finds_what_fit_hyperparameters_finds() -> None:
    X, y = smooth(60)
    gp_fit, gp_job = model(X, y), model(X, y)
    fit_hyperparameters(gp_fit, n_starts=3, seed=7)
    result = run_job(make_job(gp_job, np.random.default_rng(7), n_starts=3))
    np.testing.assert_allclose(result.optima[0].theta, gp_fit.theta.numpy(), atol=1e-6)


def test_optima_are_distinct_and_ranked() -> None:
    result = run_job(make_job(model(*rough(50)), np.random.default_rng(0), n_starts=6))
    nll = [o.neg_log_likelihood for o in result.optima]
    assert len(nll) >= 2 and nll == sorted(nll)
    thetas = np.array([o.theta for o in result.optima])
    for i in range(len(thetas)):
        for j in range(i):
            assert not np.allclose(thetas[i], thetas[j])


# ---------------------------------------------------------------------- scoring
def test_log_likelihood_at_restores_the_model() -> None:
    gp = model(*smooth(30))
    theta = gp.theta.clone()
    other = theta.numpy() + 0.3
    value = log_likelihood_at(gp, other)
    torch.testing.assert_close(gp.theta, theta)
    gp.set_theta(torch.as_tensor(other))
    assert value == pytest.approx(lml(gp))


def test_data_key_changes_with_data_and_output_scale_only() -> None:
    X, y = smooth(30)
    gp = model(X, y)
    key = data_key(gp)
    gp.set_theta(gp.theta + 1.0)
    assert data_key(gp) == key
    gp.append(np.array([[0.5, 0.5]]), np.array([0.0]))
    assert data_key(gp) != key
    # the same data, standardised with another scale (it depends on how data arrived)
    grown = model(X[:10], y[:10])
    grown.append(X[10:], y[10:])  # spread within 2x: the first scale is kept
    assert grown.y_scale != model(X, y).y_scale
    assert data_key(grown) != data_key(model(X, y))


def test_data_key_changes_with_the_edges_of_an_edge_aware_kernel() -> None:
    """A job's numbers hold only for the structure field it was computed with."""
    X, y = smooth(30)
    gp = GaussianProcess(input_bounds=[(0, 1), (0, 1)], kernel="edge")
    gp.set_data(X, y)
    key = data_key(gp)
    refresh_structure(gp)
    assert data_key(gp) != key


def test_weights_and_improvement_rule() -> None:
    w = optimum_weights([0.0, -np.log(3.0)])
    np.testing.assert_allclose(w, [0.75, 0.25])
    assert optimum_weights([-np.inf, -np.inf]).tolist() == [0.5, 0.5]
    assert improves(10.0, 9.0) and not improves(9.0, 9.0) and not improves(-np.inf, 1.0)


# ---------------------------------------------------------------------- manager
def test_train_now_improves_and_keeps_the_rule() -> None:
    gp = model(*smooth(50))
    before = lml(gp)
    with TrainingManager("inline", seed=0, **FAST) as manager:
        result = manager.train_now(gp)
        assert result.status is FitStatus.IMPROVED
        assert result.log_likelihood_before == pytest.approx(before)
        assert lml(gp) == pytest.approx(result.log_likelihood_after)
        again = manager.train_now(gp)
    assert again.log_likelihood_after >= result.log_likelihood_after - 1e-9
    assert manager.status().n_accepted >= 1


def test_result_worse_on_current_data_is_rejected() -> None:
    X, y = smooth(30)
    gp = model(X, y)
    with TrainingManager("inline", seed=0, **FAST) as manager:
        start = gp.theta.detach().numpy().copy()  # the values the model started from
        assert manager.submit(gp)  # the job fits the smooth data only
        job_thetas = [o.theta for o in manager.future.result().optima[:4]]
        gp.append(*rough(70))  # then very different data arrive ...
        manager.train_now(gp)  # ... and the model is trained on them
        theta_now = gp.theta.clone()
        outcome = manager.poll(gp)
    assert outcome is not None and outcome.rescored and not outcome.accepted
    # every candidate re-scored on the new data: the job's optima and the start values
    rescored = [log_likelihood_at(gp, theta) for theta in [*job_thetas, start]]
    assert outcome.log_likelihood_candidate == pytest.approx(max(rescored))
    assert outcome.log_likelihood_candidate < outcome.log_likelihood_before
    torch.testing.assert_close(gp.theta, theta_now)
    assert outcome.n_points_job == 30 and outcome.n_points_now == 100


def test_result_better_on_current_data_is_accepted_after_rescoring() -> None:
    gp = model(*smooth(40))
    with TrainingManager("inline", seed=0, **FAST) as manager:
        manager.submit(gp)
        gp.append(*smooth(5, seed=4))  # similar data: the job's optimum still helps
        before = lml(gp)
        outcome = manager.poll(gp)
        assert outcome is not None and outcome.accepted and outcome.rescored
        assert lml(gp) == pytest.approx(outcome.log_likelihood_after)
        assert outcome.log_likelihood_after > before
        assert manager.status().last_accepted["n_points"] == 45


def test_data_growth_resubmits_on_the_newest_data() -> None:
    gp = model(*smooth(40))
    with TrainingManager("inline", seed=0, **FAST) as manager:
        manager.submit(gp)
        assert not manager.submit(gp)  # one job per manager in flight
        gp.append(*smooth(6, seed=5))
        first = manager.poll(gp)
        assert first is not None and first.resubmitted
        status = manager.status()
        assert status.n_jobs == 2 and status.n_points_in_job == 46
        second = manager.poll(gp)
        assert second is not None and second.n_points_job == 46 and not second.rescored
        assert not second.resubmitted  # data unchanged since: nothing more to do
        assert manager.poll(gp) is None and manager.future is None


def test_cancel_drops_jobs_and_keeps_the_manager_usable() -> None:
    gp = model(*smooth(30))
    with TrainingManager("inline", seed=0, **FAST) as manager:
        manager.submit(gp)
        assert manager.cancel() == 1 and manager.future is None
        assert manager.poll(gp) is None  # the cancelled job's result is not taken in
        assert manager.submit(gp) and manager.poll(gp).accepted


def test_small_growth_below_threshold_does_not_resubmit() -> None:
    gp = model(*smooth(40))
    with TrainingManager("inline", seed=0, min_new_points=5, **FAST) as manager:
        manager.submit(gp)
        gp.append(*smooth(2, seed=5))
        outcome = manager.poll(gp)
        assert outcome is not None and not outcome.resubmitted and manager.future is None


def test_keeps_top_k_optima_with_weights() -> None:
    gp = model(*rough(60))
    with TrainingManager("inline", seed=1, n_starts=5, max_iter=60, keep_optima=3) as manager:
        assert manager.optima == []
        manager.train_now(gp)
        kept = manager.optima
    assert 2 <= len(kept) <= 3  # this rough field has several optima
    weights = [w for _, w in kept]
    assert sum(weights) == pytest.approx(1.0) and weights == sorted(weights, reverse=True)
    np.testing.assert_array_equal(kept[0][0], gp.theta.numpy())  # the best is what the model has


def test_status_and_outcome_are_json() -> None:
    gp = model(*smooth(30))
    with TrainingManager("inline", seed=0, **FAST) as manager:
        manager.submit(gp)
        outcome = manager.poll(gp)
        text = json.dumps(
            {"status": manager.status().to_dict(), "outcome": outcome.to_dict()}, allow_nan=False
        )
    back = json.loads(text)
    assert back["status"]["backend"] == "inline" and back["status"]["n_accepted"] == 1
    assert back["outcome"]["accepted"] is True and back["outcome"]["optima"]


def test_model_without_data_cannot_be_trained() -> None:
    with TrainingManager("inline") as manager, pytest.raises(NotFittedError):
        manager.submit(GaussianProcess(input_bounds=BOUNDS))


def test_closed_manager_refuses_work() -> None:
    gp = model(*smooth(20))
    manager = TrainingManager("inline")
    manager.close()
    manager.close()  # idempotent
    with pytest.raises(TrainingError, match="closed"):
        manager.submit(gp)
    assert manager.poll(gp) is None


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_starts": 0}, "n_starts"),
        ({"keep_optima": 0}, "keep_optima"),
        ({"n_polish": -1}, "n_polish"),
    ],
)
def test_bad_options_are_rejected(kwargs: dict, name: str) -> None:
    with pytest.raises(InputError, match=name):
        TrainingManager("inline", **kwargs)


def test_make_trainer() -> None:
    inline = InlineTrainer()
    assert make_trainer(inline) is inline
    assert isinstance(make_trainer("inline"), InlineTrainer)
    with pytest.raises(InputError, match="'inline', 'dask'"):
        make_trainer("gpu-farm")
    with pytest.raises(InputError):
        make_trainer(42)


# ---------------------------------------------------------------------- failures
class _LosingTrainer(Trainer):
    """Loses every job, as a cluster whose workers keep dying would."""

    backend = "dask"

    def __init__(self) -> None:
        self.submitted = 0

    def submit(self, spec: JobSpec) -> Future[JobResult]:
        self.submitted += 1
        future: Future[JobResult] = Future()
        future.set_exception(JobLostError("worker died"))
        return future


class _BrokenTrainer(Trainer):
    backend = "dask"

    def submit(self, spec: JobSpec) -> Future[JobResult]:
        future: Future[JobResult] = Future()
        future.set_exception(ValueError("bug in a kernel"))
        return future


def test_lost_job_is_resubmitted_once_then_trained_inline() -> None:
    gp = model(*smooth(30))
    trainer = _LosingTrainer()
    with TrainingManager(trainer, seed=0, **FAST) as manager:
        manager.submit(gp)
        first = manager.poll(gp)
        assert first.resubmitted and not first.accepted and trainer.submitted == 2
        with pytest.warns(TrainingWarning, match="lost twice"):
            second = manager.poll(gp)
        assert second.fallback and second.accepted and second.backend == "inline"
        status = manager.status()
    assert (status.n_lost, status.n_fallbacks, trainer.submitted) == (2, 1, 2)
    assert status.last_accepted["backend"] == "inline"


def test_failing_job_warns_and_leaves_the_model_alone() -> None:
    gp = model(*smooth(30))
    theta = gp.theta.clone()
    with TrainingManager(_BrokenTrainer()) as manager:
        manager.submit(gp)
        with pytest.warns(TrainingWarning, match="bug in a kernel"):
            outcome = manager.poll(gp)
    assert not outcome.accepted and "bug in a kernel" in outcome.error
    torch.testing.assert_close(gp.theta, theta)


def test_main_guard_detection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    guarded, bare = tmp_path / "guarded.py", tmp_path / "bare.py"
    guarded.write_text("import os\n\nif __name__ == '__main__':\n    print(1)\n")
    bare.write_text("import os\nprint(1)\n")
    for path, expected in ((guarded, True), (bare, False)):
        fake = types.ModuleType("__main__")
        fake.__file__ = str(path)
        monkeypatch.setitem(sys.modules, "__main__", fake)
        assert main_is_guarded() is expected
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))  # interactive
    assert main_is_guarded()


class _ClusterThatWillNotStart(DaskTrainer):
    def _start_embedded(self) -> None:
        raise RuntimeError("no room for workers")


def test_cluster_that_cannot_start_falls_back_to_inline_for_good() -> None:
    gp = model(*smooth(30))
    with TrainingManager(_ClusterThatWillNotStart(), seed=0, **FAST) as manager:
        assert manager.submit(gp)  # returns at once; the start fails in the background
        assert manager.wait(timeout=60)
        with pytest.warns(TrainingWarning, match="failed to start.*no room for workers"):
            outcome = manager.poll(gp)
        assert outcome.fallback and outcome.accepted and manager.backend == "inline"
        manager.submit(gp)  # later jobs run inline at once
        assert manager.future.done() and manager.status().backend == "inline"


def test_unguarded_script_gets_thread_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "experiment.py"
    script.write_text("import gpsteer\nRE(plan())\n")
    fake = types.ModuleType("__main__")
    fake.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", fake)
    trainer = DaskTrainer()
    with pytest.warns(TrainingWarning, match="experiment.py has no `if __name__"):
        trainer._decide_processes()
    assert trainer.processes is False
    assert DaskTrainer(processes=True).processes is True  # an explicit choice stands


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_lower_priority_touches_only_the_calling_thread() -> None:
    import os
    import threading

    from gpsteer.training.jobs import lower_priority

    main = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen: list[int] = []

    def step() -> None:
        lower_priority(main + 5)
        lower_priority(main + 1)  # never lowers the value again
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

    thread = threading.Thread(target=step)
    thread.start()
    thread.join()
    assert seen == [main + 5]
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == main
