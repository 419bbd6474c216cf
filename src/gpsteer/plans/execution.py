"""The steps of an autonomous run: decide in a worker thread, record, move, measure.

:func:`run_plan` is the generator behind :func:`~gpsteer.plans.autonomous_plan`
and :func:`~gpsteer.plans.resume_plan`; its arguments were validated before.

What keeps the RunEngine responsive (pause, suspenders, Ctrl-C):

* Every piece of agent work — telling it the new measurements (which may train
  inline), the stopping checks, ``ask`` — runs in one worker thread; the plan
  waits for it only through :func:`~gpsteer.plan_stubs.futures.wait_for_future`.
  Background (Dask) training is waited for the same way, once, at the end.
* A checkpoint follows every saved event and every submitted job, so a pause
  re-runs at most one move and one reading and never submits work twice. A
  point re-taken after a pause has the same ``seq_num`` and is told once.
* Stop, abort and Ctrl-C: the RunEngine writes the stop document; a
  ``finalize_wrapper`` tells the agent the measurements it has not yet been
  told, stops the worker thread and cancels training (closing the agent when
  the plan built it). A halt runs no more messages: the same is done at once,
  when the RunEngine closes the plan.
* A device that fails (an IOC gone, a move that times out) fails the run with
  a :class:`~gpsteer.errors.DeviceError` that names it; what was measured
  before is stored, and :func:`~gpsteer.plans.resume_plan` continues from there.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import time
from collections.abc import Callable, Generator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import bluesky.plan_stubs as bps
import bluesky.preprocessors as bpp
import numpy as np
from bluesky.run_engine import WaitForTimeoutError
from bluesky.utils import Msg

from gpsteer.agent.progress import Progress, ProgressBar
from gpsteer.agent.protocols import SteeringAgent
from gpsteer.agent.stopping import StopReason
from gpsteer.callbacks.feeder import AgentFeeder
from gpsteer.plan_stubs import move_and_read, record_decision, wait_for_future
from gpsteer.plans.decisions import Decision, chosen_record, rejection_record, stop_record
from gpsteer.schema.agent_stream import DecisionRecorder

logger = logging.getLogger(__name__)

__all__ = ["decide_ahead", "run_plan", "takes_pending"]

T = TypeVar("T")
#: Rounds of "wait for the training job, take it in" at the end; a job that started
#: on older data is resubmitted once on all the data, so two rounds suffice.
_FINAL_TRAINING_ROUNDS = 3
#: Seconds between looks at the final training job: each look polls the agent, which
#: lets the trainer notice a cluster with no workers (and train inline instead).
_FINAL_TRAINING_POLL_S = 2.0
#: Seconds the run waits for its final training at most; then it ends without it.
FINAL_TRAINING_TIMEOUT_S = 300.0
#: Seconds a halt waits for the decision thread before releasing the agent anyway.
_HALT_WAIT_S = 60.0


class RunState:
    """The mutable state of one execution of the plan.

    ``setup`` is the validated :class:`~gpsteer.plans.autonomous.PlanSetup`.
    """

    def __init__(self, setup: Any, agent: SteeringAgent) -> None:
        self.setup = setup
        self.agent = agent
        self.recorder = DecisionRecorder(setup.space.names)
        self.feeder = AgentFeeder(
            agent, setup.space.fields, setup.target, bounds=setup.space.bounds, defer=True
        )
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="gpsteer-decide")
        self.pipelined = setup.pipeline and takes_pending(agent)
        self.bar = ProgressBar(setup.rules.max_points) if setup.progress else None
        self.points = 0
        self.decisions = 0
        self.started = time.monotonic()
        self.uncertainty = float("nan")
        self.position: np.ndarray | None = None
        self.success = False
        self.job: Future[Any] | None = None  # the job the worker thread runs or ran last
        self.aborting = False  # set by the cleanup of a failed run: jobs stop early
        self.uid = ""  # the run's uid, once open
        self.rejections_recorded = 0  # feeder rejections already in the agent stream

    def progress(self) -> Progress:
        """Where the run stands now."""
        return Progress(
            points=self.points,
            max_points=self.setup.rules.max_points,
            elapsed=time.monotonic() - self.started,
            uncertainty=self.uncertainty,
            decisions=self.decisions,
        )

    def budget_stop(self) -> StopReason | None:
        """The stop reason from the point and time budgets, or None."""
        return self.setup.rules.budget_reason(self.points, time.monotonic() - self.started)

    # -- jobs for the worker thread ------------------------------------------------

    def decide(self, n: int, progress: Progress, ahead_of: np.ndarray | None = None) -> Decision:
        """Tell the stored measurements, check the stopping rules, ask for ``n`` points.

        ``ahead_of``: the point the motors are moving to (decided during that move): the
        path starts there, and the agent treats it as pending (never chosen again).
        """
        t0 = time.perf_counter()
        agent = self.agent
        self.feeder.flush()
        reason, uncertainty = None, float("nan")
        if not self.aborting:
            reason, uncertainty = self.setup.rules.model_reason(agent, progress)
        suggestion = None
        if reason is None and not self.aborting:
            if ahead_of is None:
                suggestion = agent.ask(n, current_position=self.position)
            else:
                suggestion = agent.ask(n, current_position=ahead_of, pending=ahead_of[None, :])
        return Decision(
            suggestion=suggestion,
            stop_reason=reason,
            uncertainty=uncertainty,
            seconds=time.perf_counter() - t0,
            snapshot=agent.snapshot(),
            training=agent.training_status().to_dict(),
            n_pending=0 if ahead_of is None else 1,
        )

    def start_final_training(self, train: bool) -> Any:
        """Tell pending measurements; submit training on all data; return its future."""
        self.feeder.flush()
        if not train or self.agent.n == 0:
            return None
        if self.agent.training_future is None:
            self.agent.train_async()  # an inline backend trains here, in this thread
        return self.agent.training_future

    def take_training(self) -> Any:
        """Take a finished job in; return the next in-flight job (a resubmission) or None."""
        self.agent.poll_training()
        return self.agent.training_future

    def final_snapshot(self) -> Decision:
        """The model the run ends with."""
        t0 = time.perf_counter()
        self.feeder.flush()
        uncertainty = float("nan")
        if self.setup.rules.target_uncertainty is not None and self.agent.n > 0:
            uncertainty = float(self.agent.max_uncertainty())
        return Decision(
            suggestion=None,
            stop_reason=None,
            uncertainty=uncertainty,
            seconds=time.perf_counter() - t0,
            snapshot=self.agent.snapshot(),
            training=self.agent.training_status().to_dict(),
        )

    # -- cleanup ---------------------------------------------------------------------

    def cleanup(self) -> Generator[Msg, Any, None]:
        """Finalize plan: cancel training, let a running job end, release everything.

        Why wait for the running job: it uses the agent, which is not thread-safe
        and which a user may use again as soon as ``RE`` returns. The wait goes
        through the RunEngine (it also runs on abort), and an aborting job skips
        its remaining steps; only a model fit already under way is waited out.
        """
        if not self.success:
            self.aborting = True
            self.agent.cancel_training()
        job = self.job
        if job is not None and not job.done():
            try:
                yield from wait_for_future(job)
            except Exception:  # the run is already failing or aborting
                pass
        if not self.success and self.feeder.n > self.feeder.told:
            # Measured, stored, not yet told: the agent must hold what the catalog holds.
            try:
                yield from wait_for_future(self.pool.submit(self._tell_pending))
            except Exception as exc:  # the run is already failing; its documents hold the data
                self._warn_untold(exc)
        self._release()

    def _warn_untold(self, exc: BaseException) -> None:
        """Say so when the agent could not take in the last readings (the run holds them)."""
        untold = self.feeder.n - self.feeder.told
        if untold > 0:
            logger.warning(
                "%d measured point(s) are in the run but not in the agent (%s: %s); "
                "rebuild it from the run with gpsteer.catalog.replay.replay(run).",
                untold,
                type(exc).__name__,
                exc,
            )

    def _tell_pending(self) -> None:
        self.feeder.flush()
        self.agent.cancel_training()  # the tell may have scheduled a job

    def _release(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        if self.bar is not None:
            self.bar.close()
        if self.setup.owns_agent:
            self.agent.close()

    def halt(self) -> None:
        """The RunEngine closed the plan (halt): clean up without RunEngine messages.

        Blocks the RunEngine loop while the decision thread finishes (halting, it
        serves nothing else), so the agent is not in use when ``RE.halt()`` returns.
        """
        self.aborting = True
        self.agent.cancel_training()
        try:
            self.pool.submit(self._tell_pending).result(timeout=_HALT_WAIT_S)
        except Exception as exc:  # halting anyway; the documents hold the data
            self._warn_untold(exc)
        self._release()


def in_thread(run: RunState, job: Callable[..., T], *args: Any) -> Generator[Msg, Any, T]:
    """Run ``job(*args)`` in the worker thread; wait without blocking the RunEngine."""
    future = run.job = run.pool.submit(job, *args)
    yield from bps.checkpoint()  # a pause from here on replays the wait, never the submission
    return (yield from wait_for_future(future))


def measure(run: RunState, point: np.ndarray) -> Generator[Msg, Any, None]:
    """Move to ``point``, trigger and read detectors and motors, checkpoint."""
    space = run.setup.space
    yield from move_and_read(
        space.motors,
        point,
        run.setup.detectors,
        timeouts=space.move_timeouts(point),
        context=f"point {run.points + 1} of run {run.uid[:8]}",
        advice=f"The {run.points} point(s) measured before are stored; bring the device back "
        "(restart its IOC, check the motor) and continue with "
        f"resume_plan(catalog[{run.uid[:8]!r}], ...).",
    )
    yield from bps.checkpoint()
    run.position = np.asarray(point, dtype=np.float64)
    run.points += 1
    if run.bar is not None:
        run.bar.update(run.progress())


def _settled(future: Any) -> Future[None]:
    """A future that completes, without error, when ``future`` has finished."""
    done: Future[None] = Future()
    future.add_done_callback(lambda _: done.set_result(None))
    return done


def record_rejections(
    run: RunState, decision: Decision, index: int, point: np.ndarray
) -> Generator[Msg, Any, None]:
    """Record each reading the feeder refused since the last call (``agent_action="reject"``)."""
    rejected = run.feeder.rejected
    while run.rejections_recorded < len(rejected):
        rejection = rejected[run.rejections_recorded]
        run.rejections_recorded += 1
        record = rejection_record(decision, run.decisions, index, point, run.agent.n, rejection)
        yield from record_decision(run.recorder, record)


def record_point(
    run: RunState, decision: Decision, index: int, point: np.ndarray
) -> Generator[Msg, Any, None]:
    """Record the choice of ``point`` (row ``index`` of the decision) in the agent stream."""
    record = chosen_record(decision, run.decisions, index, point, run.agent.n)
    yield from record_decision(run.recorder, record)


def final_training(run: RunState, train: bool) -> Generator[Msg, Any, str]:
    """Train on all the data and wait for it, at most :data:`FINAL_TRAINING_TIMEOUT_S`.

    Returns a note for the stop record ("" when it finished). The wait is sliced: after
    each slice the agent polls its training, so a job stuck in a cluster without
    workers is noticed (and trained inline) instead of waited for for ever. A failed
    job (worker or scheduler lost) is the agent's to handle; it never fails the run.
    """
    future = yield from in_thread(run, run.start_final_training, train)
    deadline = time.monotonic() + FINAL_TRAINING_TIMEOUT_S
    rounds = 0
    while future is not None and rounds < _FINAL_TRAINING_ROUNDS:
        try:
            yield from wait_for_future(_settled(future), timeout=_FINAL_TRAINING_POLL_S)
        except WaitForTimeoutError:
            if time.monotonic() > deadline:
                yield from in_thread(run, run.agent.cancel_training)
                note = (
                    f"the final training did not finish within {FINAL_TRAINING_TIMEOUT_S:g} s "
                    "and was cancelled; the model keeps the hyperparameters it had "
                    "(agent.train() trains it now)"
                )
                logger.warning("Run %s: %s.", run.uid[:8], note)
                return note
        else:
            rounds += 1
        future = yield from in_thread(run, run.take_training)
    return ""


def finish(run: RunState, reason: StopReason) -> Generator[Msg, Any, None]:
    """Final training (unless the time budget ran out), then the ``stop`` event."""
    train = run.setup.final_training and reason != StopReason.MAX_TIME
    note = yield from final_training(run, train)
    final = yield from in_thread(run, run.final_snapshot)
    feeder = run.feeder
    message = (
        f"{feeder.told} measurements told, {len(feeder.rejected)} rejected, "
        f"{feeder.duplicates} re-taken after a pause" + (f"; {note}" if note else "")
    )
    record = stop_record(final, run.decisions, run.setup.space.dim, run.agent.n, reason, message)
    yield from record_decision(run.recorder, record)


def takes_pending(agent: Any) -> bool:
    """Whether ``agent.ask`` takes ``pending=`` (needed to decide during a move)."""
    try:
        parameters = inspect.signature(agent.ask).parameters
    except (AttributeError, TypeError, ValueError):
        return False
    return "pending" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )


def decide_ahead(run: RunState, point: np.ndarray) -> Future[Decision] | None:
    """Start the next decision while the motors move to ``point`` (the last of a batch).

    None when the plan decides in series, or when the point budget ends with ``point``.
    The job waits in the worker thread; the plan collects it after the measurement.
    """
    if not run.pipelined:
        return None
    n = min(run.setup.batch_size, run.setup.rules.max_points - run.points - 1)
    if n < 1:
        return None
    ahead_of = np.asarray(point, dtype=np.float64)
    progress = dataclasses.replace(run.progress(), points=run.points + 1)  # counts ``point``
    future = run.job = run.pool.submit(run.decide, n, progress, ahead_of)
    return future


def _loop(run: RunState) -> Generator[Msg, Any, StopReason]:
    """Decide, record, measure until a stopping rule holds; return the stop reason.

    Pipelined (the default), the decision for the next batch runs in the worker thread
    while the last point of this batch is moved to and measured; it sees every
    measurement stored before, and that point as pending.
    """
    setup = run.setup
    if setup.initial_points is not None:  # explicit positions, measured before any decision
        for index, point in enumerate(setup.initial_points):
            reason = run.budget_stop()
            if reason is not None:
                return reason
            snapshot = Decision()
            yield from record_point(run, snapshot, index, point)
            yield from measure(run, point)
            yield from record_rejections(run, snapshot, index, point)
        run.decisions += 1
    first = True
    decided: Decision | None = None  # the next decision, made during the last measurement
    while True:
        reason = run.budget_stop()
        if reason is not None:
            return reason
        if decided is None:
            n = setup.initial_count if first and setup.initial_count > 0 else setup.batch_size
            n = min(n, setup.rules.max_points - run.points)
            decision = yield from in_thread(run, run.decide, n, run.progress())
        else:
            decision, decided = decided, None
        first = False
        run.uncertainty = decision.uncertainty
        if decision.stop_reason is not None:
            return decision.stop_reason
        s = decision.suggestion
        std = np.asarray(s.predicted_std, dtype=np.float64)
        if setup.rules.target_uncertainty is None and np.isfinite(std).any():
            run.uncertainty = float(np.nanmax(std))
        points = np.asarray(s.points, dtype=np.float64).reshape(-1, setup.space.dim)
        if len(points) == 0:
            return StopReason.NO_SUGGESTION
        for index, point in enumerate(points):  # the agent ordered them for a short path
            reason = run.budget_stop()
            if reason is not None:
                return reason
            yield from record_point(run, decision, index, point)
            ahead = decide_ahead(run, point) if index == len(points) - 1 else None
            yield from measure(run, point)
            if ahead is not None:  # collected before anything else uses the agent
                decided = yield from wait_for_future(ahead)
            yield from record_rejections(run, decision, index, point)
        run.decisions += 1


def run_plan(
    setup: Any, start_metadata: Callable[[Any], dict[str, Any]]
) -> Generator[Msg, Any, str]:
    """The plan body: open the run, loop, finish, close; returns the run uid.

    ``start_metadata(agent)`` builds the start document's metadata.
    """
    agent = setup.agent
    if agent is None:
        agent = default_agent(setup.space.bounds, seed=setup.seed)
    try:
        run = RunState(setup, agent)
        callbacks: list[Any] = [run.feeder]
        if setup.live_plot is not None:
            setup.live_plot.attach(agent, setup.space)
            callbacks.append(setup.live_plot)
    except BaseException:
        if setup.owns_agent:
            agent.close()
        raise

    def body() -> Generator[Msg, Any, str]:
        uid = yield from bps.open_run(start_metadata(agent))
        run.uid = str(uid or "")
        run.started = time.monotonic()
        reason = yield from _loop(run)
        yield from finish(run, reason)
        yield from bps.close_run(reason=reason.value)
        if run.bar is not None:
            run.bar.close(reason)
            run.bar = None
        run.success = True
        return uid

    try:
        return (yield from bpp.finalize_wrapper(bpp.subs_wrapper(body(), callbacks), run.cleanup))
    except GeneratorExit:  # RE.halt(): finalize_wrapper skips the cleanup plan
        run.halt()
        raise


def default_agent(bounds: np.ndarray, *, seed: int | None) -> SteeringAgent:
    """The agent a plan builds when none is given: variance mapping, trained on Dask.

    Why Dask: training then overlaps the measurements (an embedded ``LocalCluster``
    on 127.0.0.1, started in the background at the first training and closed
    with the agent).
    """
    from gpsteer.agent import Agent

    return Agent(bounds=np.asarray(bounds).tolist(), seed=seed, training="dask")
