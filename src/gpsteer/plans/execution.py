"""The steps of an autonomous run: decide in a worker thread, record, move, measure.

:func:`run_plan` is the generator behind :func:`~gpsteer.plans.autonomous_plan`
and :func:`~gpsteer.plans.resume_plan`; its arguments were validated before.

What keeps the RunEngine responsive (pause, suspenders, Ctrl-C):

* Every piece of agent work — telling it the new measurements (which may train
  inline), the stopping checks, ``ask`` — runs in one worker thread; the plan
  waits for it only through :func:`~gpsteer.plans.futures.wait_for_future`.
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

import logging
import time
from collections.abc import Callable, Generator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import bluesky.plan_stubs as bps
import bluesky.preprocessors as bpp
import numpy as np
from bluesky.run_engine import WaitForTimeoutError
from bluesky.utils import FailedStatus, Msg, RunEngineControlException

from gpsteer.errors import DeviceError, GpsteerError
from gpsteer.plans import agent_support
from gpsteer.plans.callback import AgentFeeder
from gpsteer.plans.futures import wait_for_future
from gpsteer.plans.progress import Progress, ProgressBar
from gpsteer.plans.recorder import STREAM, DecisionRecorder, to_json

logger = logging.getLogger(__name__)

__all__ = ["StopReason", "run_plan"]

T = TypeVar("T")
#: Rounds of "wait for the training job, take it in" at the end; a job that started
#: on older data is resubmitted once on all the data, so two rounds suffice.
_FINAL_TRAINING_ROUNDS = 3
#: Seconds between looks at the final training job: each look polls the agent, which
#: lets the trainer notice a cluster with no workers (and train inline instead).
_FINAL_TRAINING_POLL_S = 2.0
#: Seconds the run waits for its final training at most; then it ends without it.
FINAL_TRAINING_TIMEOUT_S = 300.0
#: Packages whose exceptions, raised by a move or a reading, are device failures.
_DEVICE_PACKAGES = ("ophyd", "ophyd_async", "caproto", "epics")
#: Seconds a halt waits for the decision thread before releasing the agent anyway.
_HALT_WAIT_S = 60.0


class StopReason:
    """Why an autonomous run stopped (the stop document's ``reason``)."""

    MAX_POINTS = "max_points"
    MAX_TIME = "max_time"
    TARGET_UNCERTAINTY = "target_uncertainty"
    STOP_WHEN = "stop_when"
    #: The agent suggested no point (e.g. every allowed candidate is measured).
    NO_SUGGESTION = "no_suggestion"


@dataclass
class Decision:
    """What one decision job returned from the worker thread."""

    suggestion: Any | None
    stop_reason: str | None
    uncertainty: float
    seconds: float
    snapshot: dict[str, Any]
    training: dict[str, Any]


class RunState:
    """The mutable state of one execution of the plan.

    ``setup`` is the validated :class:`~gpsteer.plans.autonomous.PlanSetup`.
    """

    def __init__(self, setup: Any, agent: Any) -> None:
        self.setup = setup
        self.agent = agent
        self.recorder = DecisionRecorder(setup.space.names)
        self.feeder = AgentFeeder(
            agent, setup.space.fields, setup.target, bounds=setup.space.bounds, defer=True
        )
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="gpsteer-decide")
        self.bar = ProgressBar(setup.max_points) if setup.progress else None
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
            max_points=self.setup.max_points,
            elapsed=time.monotonic() - self.started,
            uncertainty=self.uncertainty,
            decisions=self.decisions,
        )

    def budget_stop(self) -> str | None:
        """The stop reason from the point and time budgets, or None."""
        if self.points >= self.setup.max_points:
            return StopReason.MAX_POINTS
        max_time = self.setup.max_time
        if max_time is not None and time.monotonic() - self.started >= max_time:
            return StopReason.MAX_TIME
        return None

    # -- jobs for the worker thread ------------------------------------------------

    def decide(self, n: int, progress: Progress) -> Decision:
        """Tell pending measurements, check the stopping rules, then ask for ``n`` points."""
        t0 = time.perf_counter()
        agent, setup = self.agent, self.setup
        self.feeder.flush()
        reason, uncertainty = None, float("nan")
        if setup.stop_when is not None and setup.stop_when(agent, progress):
            reason = StopReason.STOP_WHEN
        elif setup.target_uncertainty is not None and agent.n > 0 and not self.aborting:
            uncertainty = float(agent.max_uncertainty())
            if uncertainty <= setup.target_uncertainty:
                reason = StopReason.TARGET_UNCERTAINTY
        suggestion = None
        if reason is None and not self.aborting:
            suggestion = agent.ask(n, current_position=self.position)
        return Decision(
            suggestion=suggestion,
            stop_reason=reason,
            uncertainty=uncertainty,
            seconds=time.perf_counter() - t0,
            snapshot=agent_support.model_snapshot(agent),
            training=agent_support.training_status(agent),
        )

    def start_final_training(self, train: bool) -> Any:
        """Tell pending measurements; submit training on all data; return its future."""
        self.feeder.flush()
        if not train or self.agent.n == 0:
            return None
        if agent_support.training_future(self.agent) is None:
            self.agent.train_async()  # an inline backend trains here, in this thread
        return agent_support.training_future(self.agent)

    def take_training(self) -> Any:
        """Take a finished job in; return the next in-flight job (a resubmission) or None."""
        self.agent.poll_training()
        return agent_support.training_future(self.agent)

    def final_snapshot(self) -> Decision:
        """The model the run ends with."""
        t0 = time.perf_counter()
        self.feeder.flush()
        uncertainty = float("nan")
        if self.setup.target_uncertainty is not None and self.agent.n > 0:
            uncertainty = float(self.agent.max_uncertainty())
        return Decision(
            suggestion=None,
            stop_reason=None,
            uncertainty=uncertainty,
            seconds=time.perf_counter() - t0,
            snapshot=agent_support.model_snapshot(self.agent),
            training=agent_support.training_status(self.agent),
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
            agent_support.cancel_training(self.agent)
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
                "rebuild it from the run with gpsteer.plans.replay.replay(run).",
                untold,
                type(exc).__name__,
                exc,
            )

    def _tell_pending(self) -> None:
        self.feeder.flush()
        agent_support.cancel_training(self.agent)  # the tell may have scheduled a job

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
        agent_support.cancel_training(self.agent)
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


def move(run: RunState, point: np.ndarray) -> Generator[Msg, Any, dict[str, float]]:
    """Move every motor to ``point`` at once and wait; return the timeouts given.

    A motor record whose own ``timeout`` is None gets one from the distance and its
    speed (:meth:`~gpsteer.plans.validation.Space.move_timeout`), so a move whose IOC
    died half-way fails instead of waiting for ever.
    """
    space = run.setup.space
    group = f"gpsteer-move-{run.points + 1}"
    timeouts: dict[str, float] = {}
    for index, (motor, value) in enumerate(zip(space.motors, point, strict=True)):
        start = getattr(motor, "position", None)
        distance = abs(float(value) - float(start)) if _is_number(start) else float("nan")
        if not np.isfinite(distance):  # where the motor is, is not known: the widest move
            distance = float(np.ptp(space.bounds[index]))
        timeout = space.move_timeout(index, distance)
        kwargs = {} if timeout is None else {"timeout": timeout}
        if timeout is not None:
            timeouts[space.names[index]] = timeout
        yield from bps.abs_set(motor, float(value), group=group, **kwargs)
    yield from bps.wait(group=group)
    return timeouts


def _is_number(value: Any) -> bool:
    try:
        return bool(np.isfinite(float(value)))
    except (TypeError, ValueError):
        return False


def measure(run: RunState, point: np.ndarray) -> Generator[Msg, Any, None]:
    """Move to ``point``, trigger and read detectors and motors, checkpoint."""
    space = run.setup.space
    where = ", ".join(f"{n}={float(v):.6g}" for n, v in zip(space.names, point, strict=True))
    try:
        yield from move(run, point)
    except Exception as exc:
        error = _device_error(run, exc, space.motors, f"moving to {where}")
        if error is exc:
            raise
        raise error from exc
    try:
        yield from bps.trigger_and_read([*run.setup.detectors, *space.motors])
    except Exception as exc:
        error = _device_error(run, exc, run.setup.detectors, f"measuring at {where}")
        if error is exc:
            raise
        raise error from exc
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


def _device_error(run: RunState, exc: Exception, devices: Any, doing: str) -> Exception:
    """``exc`` as a :class:`DeviceError` naming the device and saying what to do next.

    Only device failures are translated: a failed status, a timeout, a lost
    connection, an ophyd/caproto error. RunEngine control (stop, abort) and
    errors of callbacks (a target reduction, the catalog) pass through unchanged.
    """
    package = type(exc).__module__.split(".")[0]
    if (
        not isinstance(exc, (FailedStatus, TimeoutError, OSError))
        and package not in _DEVICE_PACKAGES
    ):
        return exc
    if isinstance(exc, (RunEngineControlException, GpsteerError)):
        return exc
    cause: BaseException = exc
    names = [getattr(d, "name", repr(d)) for d in devices]
    if isinstance(exc, FailedStatus):
        status = exc.args[0] if exc.args else None
        device = getattr(status, "device", None) or getattr(status, "obj", None)
        if device is not None:
            names = [getattr(device, "name", repr(device))]
        cause = exc.__cause__ or exc
    text = str(cause).rstrip(". ")
    what = f"{type(cause).__name__}: {text}" if text else type(cause).__name__
    if type(cause).__name__ == "StatusTimeoutError" and doing.startswith("moving"):
        what += (
            " (the move did not finish in time: its IOC may have died during the move. "
            "Without a motor.timeout of its own, a motor record gets 2 x (distance / "
            "velocity + 2 x acceleration) + 10 s)"
        )
    return DeviceError(
        f"{' / '.join(names)} failed while {doing} (point {run.points + 1} of run "
        f"{run.uid[:8]}): {what}. The {run.points} point(s) measured before are stored; "
        "bring the device back (restart its IOC, check the motor) and continue with "
        f"resume_plan(catalog[{run.uid[:8]!r}], ...)."
    )


def record_rejections(
    run: RunState, decision: Decision, index: int, point: np.ndarray
) -> Generator[Msg, Any, None]:
    """Record each reading the feeder refused since the last call (``agent_action="reject"``)."""
    rejected = run.feeder.rejected
    while run.rejections_recorded < len(rejected):
        rejection = rejected[run.rejections_recorded]
        run.rejections_recorded += 1
        run.recorder.record_position(point)
        chosen = _chosen(run, decision, index)
        chosen["message"] = f"reading seq_num {rejection.seq_num} not told: {rejection.reason}"
        yield from record(
            run,
            action="reject",
            decision=run.decisions,
            batch_index=index,
            stop_reason="",
            **chosen,
            **_model_fields(decision),
        )


def record(run: RunState, **values: Any) -> Generator[Msg, Any, None]:
    """Emit one event of the ``agent`` stream, then checkpoint."""
    run.recorder.record(**values)
    yield from bps.create(STREAM)
    yield from bps.read(run.recorder)
    yield from bps.save()
    yield from bps.checkpoint()


def _model_fields(decision: Decision) -> dict[str, Any]:
    snapshot = decision.snapshot
    return {
        "model_version": int(snapshot.get("model_version", 0)),
        "hyperparameters": to_json(snapshot.get("hyperparameters", {})),
        "state": to_json(snapshot),
        "training": to_json(decision.training),
        "max_uncertainty": decision.uncertainty,
        "decision_time": decision.seconds,
    }


def record_point(
    run: RunState, decision: Decision, index: int, point: np.ndarray
) -> Generator[Msg, Any, None]:
    """Record the choice of ``point`` (row ``index`` of the decision) in the agent stream."""
    run.recorder.record_position(point)
    yield from record(
        run,
        action="measure",
        decision=run.decisions,
        batch_index=index,
        stop_reason="",
        **_chosen(run, decision, index),
        **_model_fields(decision),
    )


def _chosen(run: RunState, decision: Decision, index: int) -> dict[str, Any]:
    """The agent-stream fields that say how row ``index`` of ``decision`` was chosen."""
    s = decision.suggestion
    if s is None:  # explicit initial points: chosen by the user, not by a model
        return {
            "acquisition": "initial_points",
            "acquisition_value": float("nan"),
            "predicted_mean": float("nan"),
            "predicted_std": float("nan"),
            "n_points": run.agent.n,
            "fallback": False,
            "message": "initial point given to the plan",
        }
    return {
        "acquisition": s.acquisition,
        "acquisition_value": float(s.values[index]),
        "predicted_mean": float(s.predicted_mean[index]),
        "predicted_std": float(s.predicted_std[index]),
        "n_points": int(s.model_version.n_points),
        "fallback": bool(s.fallback),
        "message": str(s.message or ""),
    }


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
                yield from in_thread(run, agent_support.cancel_training, run.agent)
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


def finish(run: RunState, reason: str) -> Generator[Msg, Any, None]:
    """Final training (unless the time budget ran out), then the ``stop`` event."""
    train = run.setup.final_training and reason != StopReason.MAX_TIME
    note = yield from final_training(run, train)
    final = yield from in_thread(run, run.final_snapshot)
    run.recorder.record_position(np.full(run.setup.space.dim, np.nan))
    feeder = run.feeder
    yield from record(
        run,
        action="stop",
        decision=run.decisions,
        batch_index=0,
        acquisition="",
        acquisition_value=float("nan"),
        predicted_mean=float("nan"),
        predicted_std=float("nan"),
        n_points=run.agent.n,
        fallback=False,
        message=f"{feeder.told} measurements told, {len(feeder.rejected)} rejected, "
        f"{feeder.duplicates} re-taken after a pause" + (f"; {note}" if note else ""),
        stop_reason=reason,
        **_model_fields(final),
    )


def _loop(run: RunState) -> Generator[Msg, Any, str]:
    """Decide, record, measure until a stopping rule holds; return the stop reason."""
    setup = run.setup
    if setup.initial_points is not None:  # explicit positions, measured before any decision
        for index, point in enumerate(setup.initial_points):
            reason = run.budget_stop()
            if reason is not None:
                return reason
            snapshot = Decision(None, None, float("nan"), 0.0, {}, {})
            yield from record_point(run, snapshot, index, point)
            yield from measure(run, point)
            yield from record_rejections(run, snapshot, index, point)
        run.decisions += 1
    first = True
    while True:
        reason = run.budget_stop()
        if reason is not None:
            return reason
        n = setup.initial_count if first and setup.initial_count > 0 else setup.batch_size
        first = False
        n = min(n, setup.max_points - run.points)
        decision = yield from in_thread(run, run.decide, n, run.progress())
        run.uncertainty = decision.uncertainty
        if decision.stop_reason is not None:
            return decision.stop_reason
        s = decision.suggestion
        std = np.asarray(s.predicted_std, dtype=np.float64)
        if setup.target_uncertainty is None and np.isfinite(std).any():
            run.uncertainty = float(np.nanmax(std))
        points = agent_support.points_in(s.points, setup.space.dim)
        if len(points) == 0:
            return StopReason.NO_SUGGESTION
        for index, point in enumerate(points):  # the agent ordered them for a short path
            reason = run.budget_stop()
            if reason is not None:
                return reason
            yield from record_point(run, decision, index, point)
            yield from measure(run, point)
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
        agent = agent_support.default_agent(setup.space.bounds, seed=setup.seed)
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
        yield from bps.close_run(reason=reason)
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
