"""The :class:`Agent`: tell it measurements, ask it where to measure next.

It owns a GP (:mod:`gpsteer.gp`), an acquisition function and its optimizer
(:mod:`gpsteer.acquisition`), an output transform, a retraining schedule, and the
bookkeeping that makes its state saveable and a decision traceable to a model version.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from gpsteer.acquisition import (
    Acquisition,
    AcquisitionContext,
    MotionCost,
    OptimizerSettings,
    make_acquisition,
    maximize,
    order_path,
    path_time,
    select_batch,
    sobol_points,
)
from gpsteer.acquisition.design import space_filling
from gpsteer.acquisition.optimize import Constraint, check_candidates
from gpsteer.acquisition.threads import compute_threads
from gpsteer.agent.bluesky_adaptive import OptimizerAdapter
from gpsteer.agent.interventions import ForbiddenBox, Interventions
from gpsteer.agent.loop import run_agent
from gpsteer.agent.map_check import MapCheck, check_map, interpolated_map
from gpsteer.agent.progress import Progress
from gpsteer.agent.results import ModelVersion, RunResult, Suggestion
from gpsteer.agent.retraining import TrainingSchedule, make_schedule
from gpsteer.agent.state import (
    STATE_FORMAT,
    STATE_VERSION,
    AgentState,
    constructor_arguments,
    snapshot_state,
    standardization_steps,
)
from gpsteer.agent.stopping import StoppingRules, predicate_of_two
from gpsteer.agent.training_backend import TrainingBackend, make_training
from gpsteer.agent.transforms import OutputTransform, make_output_transform
from gpsteer.agent.validation import (
    MAX_ABS_VALUE,
    check_bounds,
    check_constraints,
    check_count,
    check_names,
    check_points,
    check_values,
)
from gpsteer.errors import (
    ConfigurationError,
    InputError,
    NotFittedError,
    ShapeError,
    TrainingWarning,
)
from gpsteer.gp import GaussianProcess, Posterior
from gpsteer.gp.fit import FitResult
from gpsteer.gp.kernels import Kernel
from gpsteer.gp.means import Mean
from gpsteer.gp.neighbours import EXACT_LIMIT, NeighbourGP, model_for_size
from gpsteer.gp.noise import HomoscedasticNoise, MeasuredNoise, NoiseModel
from gpsteer.gp.structure import StructureSource, refresh_structure, restore_structure

__all__ = ["Agent"]

#: Data growth factor between two readings of the edges (see ``Agent._structure_due``).
STRUCTURE_GROWTH = 1.15

_NOISES: dict[str, Callable[[], NoiseModel]] = {
    "homoscedastic": HomoscedasticNoise,
    "measured": lambda: MeasuredNoise(learn_floor=True),
}


def _describe(obj: Any) -> Any:
    """A JSON-able configuration entry: the name, or a marker for an object it cannot hold."""
    if obj is None or isinstance(obj, str):
        return obj
    return {"custom": repr(obj)}


class Agent:
    """A GP model of a measured field and a policy for where to measure next.

    Parameters
    ----------
    bounds
        ``[(lo, hi), ...]``, one pair per input dimension (motor), in user units.
    kernel, mean
        Kernel and prior mean, by name (``"edge"`` default: a Matérn-5/2 that is short
        across the edges the data reveal and long along them, see
        :class:`~gpsteer.gp.kernels.EdgeAligned`; ``"matern52"``, ``"rbf"``, ...;
        ``"constant"``, ``"zero"``) or as :mod:`gpsteer.gp` objects. The ``edge`` kernel
        re-reads its edges from the estimate each time the data grow by 15 %.
    noise
        ``None`` (learned homoscedastic noise, or measured variances plus a learned floor
        when ``tell`` gets ``noise_variance``), ``"homoscedastic"``, ``"measured"``, or a
        :class:`~gpsteer.gp.NoiseModel`.
    acquisition
        A name (``"map"`` default: the map's uncertainty with a coverage floor, see
        :class:`~gpsteer.acquisition.MapUncertainty`; ``"variance"``, ``"ucb"``, ``"lcb"``,
        ``"ei"``, ``"pi"``, ``"gradient"``, ``"boundary"``, ``"mutual_information"``), an
        :class:`~gpsteer.acquisition.Acquisition` (e.g. ``Target(lo, hi)``,
        ``ExpectedImprovement(maximize=False)``) or a callable ``fn(X, posterior) -> tensor``.
    output_transform
        ``"identity"`` or ``"log"`` (positive intensities spanning decades).
    training
        ``"inline"`` (train in ``tell``/``train``), ``"dask"`` (train in the background
        on Dask), or a trainer object from :mod:`gpsteer.training`.
    train_schedule
        ``"geometric"`` (default: retrain at 8, 12, 18, ... points), ``"never"``, or a
        :class:`~gpsteer.agent.retraining.TrainingSchedule`.
    seed
        Seeds every random choice (candidates, initial designs, training starts).
    device
        Torch device of the model (``"cpu"`` default, ``"cuda"``).
    motion_cost
        :class:`~gpsteer.acquisition.MotionCost`: weigh acquisition per second of travel
        plus overhead, so nearby informative points win.
    candidates
        ``(N, d)`` allowed positions; the agent then only suggests these.
    constraints
        Functions ``g(X) -> (m,)`` written with torch operations; only points with every
        ``g >= 0`` are suggested.
    dimension_names, value_name
        Keys of the dicts of :meth:`suggest`/:meth:`ingest` (default ``x0, x1, ...`` and
        ``"y"``).
    optimizer
        :class:`~gpsteer.acquisition.OptimizerSettings` (candidates, starts, iterations).
    num_threads
        Torch threads while the agent computes (default 1: fastest on shared machines);
        ``None`` leaves the process setting.
    exact_limit
        Beyond this many points the model predicts from each point's nearest data
        (:class:`~gpsteer.gp.neighbours.NeighbourGP`: same kernel and hyperparameters,
        cost independent of N) instead of the exact GP, whose cost grows as N^2 per
        point. ``None`` keeps the exact GP however large the map.
    """

    def __init__(
        self,
        bounds: Sequence[tuple[float, float]] | np.ndarray,
        *,
        kernel: str | Kernel = "edge",
        mean: str | Mean = "constant",
        noise: str | NoiseModel | None = None,
        acquisition: str | Acquisition | Mapping[str, Any] | Callable[..., Any] = "map",
        output_transform: str | OutputTransform = "identity",
        training: Any = "inline",
        train_schedule: str | TrainingSchedule | Mapping[str, Any] | None = "geometric",
        seed: int | None = None,
        device: str | torch.device | None = None,
        motion_cost: MotionCost | None = None,
        candidates: np.ndarray | None = None,
        constraints: Constraint | Sequence[Constraint] = (),
        dimension_names: Sequence[str] | None = None,
        value_name: str = "y",
        optimizer: OptimizerSettings | None = None,
        num_threads: int | None = 1,
        exact_limit: int | None = EXACT_LIMIT,
    ) -> None:
        self._bounds = check_bounds(bounds)
        d = self._bounds.shape[0]
        self._names, self._value_name = check_names(dimension_names, value_name, d)
        self._acquisition = make_acquisition(acquisition)
        self._transform = make_output_transform(output_transform)
        self._schedule = make_schedule(train_schedule)
        if motion_cost is not None and (
            not isinstance(motion_cost, MotionCost) or motion_cost.dim != d
        ):
            raise ConfigurationError(
                f"motion_cost must be a MotionCost with {d} speed(s), one per dimension; got "
                f"{motion_cost!r}."
            )
        self._motion = motion_cost
        self._candidates = (
            None if candidates is None else check_candidates(candidates, self._bounds)
        )
        self._constraints = check_constraints(constraints)
        self._interventions = Interventions(self._bounds)
        self._optimizer = optimizer if optimizer is not None else OptimizerSettings()
        if not isinstance(self._optimizer, OptimizerSettings):
            raise InputError(f"optimizer must be OptimizerSettings; got {optimizer!r}.")
        if num_threads is not None and (not isinstance(num_threads, int) or num_threads < 1):
            raise InputError(f"num_threads must be an integer >= 1 or None; got {num_threads!r}.")
        self._num_threads = num_threads
        if exact_limit is not None and (not isinstance(exact_limit, int) or exact_limit < 1):
            raise InputError(
                f"exact_limit must be a positive integer or None; got {exact_limit!r}."
            )
        self._exact_limit = exact_limit
        if isinstance(noise, str) and noise not in _NOISES:
            raise InputError(f"Unknown noise {noise!r}; choose one of {sorted(_NOISES)} or None.")
        noise_model = _NOISES[noise]() if isinstance(noise, str) else noise
        self.gp = GaussianProcess(
            kernel=kernel,
            mean=mean,
            noise=noise_model,
            input_bounds=self._bounds.tolist(),
            device=device,
        )
        max_iter = self._schedule.max_iter if self._schedule else 200
        self._training: TrainingBackend = make_training(training, max_iter=max_iter, seed=seed)
        self._config_entries = {
            "kernel": _describe(kernel),
            "mean": _describe(mean),
            "noise": _describe(noise),
            "training": _describe(training),
            "device": str(self.gp.device),
        }
        self._seed = seed
        self._rng = np.random.default_rng(seed)
        self._X = np.empty((0, d))
        self._y = np.empty(0)
        self._nv: np.ndarray | None = None
        self._point_ids: list[Any] = []
        self._last_trained_n: int | None = None
        self._version = 0
        self._model_key: tuple[Any, ...] | None = None
        self._structure: StructureSource | None = None  # what the edge field came from
        self._took_in_training = False  # a background job's result has come back
        self._map_check: MapCheck | None = None  # the model against interpolation
        #: bluesky-adaptive's Optimizer protocol (suggest / ingest / get_best_points).
        self.optimizer = OptimizerAdapter(self)

    # ------------------------------------------------------------------ properties
    @property
    def dim(self) -> int:
        return int(self._bounds.shape[0])

    @property
    def bounds(self) -> np.ndarray:
        return self._bounds.copy()

    @property
    def n(self) -> int:
        """Number of measurements told."""
        return int(self._y.shape[0])

    @property
    def X(self) -> np.ndarray:
        return self._X.copy()

    @property
    def y(self) -> np.ndarray:
        """Measured values, in user units (before the output transform)."""
        return self._y.copy()

    @property
    def point_ids(self) -> list[Any]:
        """The id of each measurement told (``tell(..., ids=...)``; None where none given)."""
        return list(self._point_ids)

    @property
    def acquisition(self) -> Acquisition:
        return self._acquisition

    @property
    def dimension_names(self) -> tuple[str, ...]:
        return self._names

    @property
    def value_name(self) -> str:
        return self._value_name

    @property
    def model_version(self) -> ModelVersion:
        hps = self.gp.hyperparameters() if self.n else {}
        return ModelVersion(n_points=self.n, hyperparameters=hps, version=self._version)

    # ------------------------------------------------------------------ data
    def tell(
        self, X: Any, y: Any, noise_variance: Any = None, *, ids: Sequence[Any] | None = None
    ) -> None:
        """Add measurements ``X`` ``(n, d)``, ``y`` ``(n,)`` (optional per-point variances).

        ``ids`` name the measurements (JSON-able; :attr:`point_ids`, bluesky-adaptive's
        ``"_id"``). Everything is checked before anything changes. Updates the posterior
        in O(N^2) and, on the training schedule, retrains (inline) or submits training
        (Dask).
        """
        X = check_points(X, self._bounds)
        if X.shape[0] == 0:
            raise InputError("tell() got no measurements; pass at least one point.")
        y = check_values(y, X.shape[0])
        self._transform.check(y)
        nv = None
        if noise_variance is not None:
            nv = check_values(
                noise_variance,
                X.shape[0],
                "noise_variance",
                nonnegative=True,
                allow_scalar=True,
                max_abs=MAX_ABS_VALUE**2,
            )
        if self.n and (nv is None) != (self._nv is None):
            raise ConfigurationError(
                "Either every measurement comes with noise_variance or none does; this batch "
                + ("has none." if nv is None else "has some but earlier data had none.")
            )
        ym = self._transform.forward(y)
        nvm = None if nv is None else self._transform.forward_variance(y, nv)
        if ids is not None and len(ids) != X.shape[0]:
            raise ShapeError(f"ids must name each of the {X.shape[0]} point(s); got {len(ids)}.")
        with compute_threads(self._num_threads):
            if self.gp.n == 0:
                self.gp.set_data(X, ym, nvm)
            else:
                self.gp = model_for_size(self.gp, self._exact_limit, adding=X.shape[0])
                self.gp.append(X, ym, nvm)
            self.gp = model_for_size(self.gp, self._exact_limit)
        self._X = np.vstack([self._X, X])
        self._y = np.concatenate([self._y, y])
        if nv is not None:
            self._nv = nv if self._nv is None else np.concatenate([self._nv, nv])
        self._point_ids.extend(list(ids) if ids is not None else [None] * X.shape[0])
        self._after_data()

    # ------------------------------------------------------------------ training
    def _after_data(self) -> None:
        with compute_threads(self._num_threads):
            self._poll()
            due = self._schedule is not None and self._schedule.due(self.n, self._last_trained_n)
            if due:
                self._refresh_scale()
            # training stays due while a job runs: the edges follow their own schedule then
            busy = self._training.busy()
            if (due and not busy) or self._structure_due():
                self._refresh_structure()
            if due and not busy:
                starts = self._schedule.starts(self._last_trained_n)
                if self._training.schedule(self.gp, n_starts=starts):
                    self._last_trained_n = self.n
        self._sync_version()

    def _poll(self) -> None:
        if self._training.poll(self.gp) is not None:
            self._took_in_training = True

    def _refresh_scale(self) -> None:
        """Standardise the GP's outputs on all data before training (the GP records it).

        Not while a training job runs: its result is judged in the scale it was computed in.
        """
        if self.gp.n and self.gp.standardized_at[-1] != self.n and not self._training.busy():
            self.gp.restandardize()

    def _structure_due(self) -> bool:
        """The edges are re-read from the estimate each time the data grow by
        :data:`STRUCTURE_GROWTH` (more often than training: it is cheaper, and an edge
        the points have just traced should steer the next ones)."""
        if self._structure is None:
            # the first edges come with the next training, or (training in the background,
            # where a stale job is resubmitted at once) as soon as a job's result is in
            return self._took_in_training
        return self.n >= math.ceil(STRUCTURE_GROWTH * self._structure.n_points)

    def _refresh_structure(self) -> None:
        """Give an edge-aware kernel the edges of the current estimate, before it trains.

        Only once training has begun: before that, the estimate is the prior's. Also while
        a background job runs (with Dask one nearly always does): its result is judged on
        the model as it is when it returns, edges included (``training.scoring.data_key``).
        """
        if self._last_trained_n is None:
            return
        source = refresh_structure(self.gp)
        if source is not None:
            self._structure = source

    def _sync_version(self) -> None:
        if not self.n:
            return
        edges = None if self._structure is None else self._structure.n_points
        key = (tuple(self.gp.theta.cpu().tolist()), self.gp.y_scale, edges, self.model_kind)
        changed = key != self._model_key
        if self._model_key is not None and changed:
            self._version += 1
        self._model_key = key
        if changed:
            self._check_map()

    def _check_map(self) -> None:
        """Compare the model with interpolation on held-out points (see :mod:`.map_check`)."""
        was = self._map_check is not None and self._map_check.uses_interpolation
        index = self.gp.sample_index()  # all points, or a large model's sample of them
        with compute_threads(self._num_threads):
            residuals = self.gp.leave_one_out_residuals(index).cpu().numpy() * self.gp.y_scale
        self._map_check = check_map(
            self._unit(self._X), self._transform.forward(self._y), residuals, at=index
        )
        if self._map_check is not None and self._map_check.uses_interpolation and not was:
            warnings.warn(f"Agent: {self._map_check.message}.", TrainingWarning, stacklevel=3)

    def _unit(self, X: np.ndarray) -> np.ndarray:
        lo, hi = self._bounds[:, 0], self._bounds[:, 1]
        return (np.asarray(X, dtype=float) - lo) / (hi - lo)

    @property
    def model_kind(self) -> str:
        """``"exact"`` (the exact GP) or ``"neighbours"`` (beyond ``exact_limit`` points)."""
        return "neighbours" if isinstance(self.gp, NeighbourGP) else "exact"

    @property
    def map_check(self) -> MapCheck | None:
        """The last comparison of the model with interpolation (``None``: too few points)."""
        return self._map_check

    def train(self) -> FitResult:
        """Train the hyperparameters now, synchronously, on all data; returns what happened."""
        self._require_data()
        with compute_threads(self._num_threads):
            self._refresh_scale()
            self._refresh_structure()
            n_starts = self._schedule.starts(self._last_trained_n) if self._schedule else 4
            result = self._training.train_now(self.gp, n_starts=n_starts)
        self._last_trained_n = self.n
        self._sync_version()
        return result

    def train_async(self) -> bool:
        """Submit background training; ``False`` if a job is already running."""
        self._require_data()
        if self._training.busy():
            return False
        with compute_threads(self._num_threads):
            self._refresh_scale()
            self._refresh_structure()
            submitted = self._training.submit(self.gp)
        if submitted:
            self._last_trained_n = self.n
        self.poll_training()  # an inline job has already finished: take it in now
        return submitted

    def training_status(self) -> Any:
        """The training backend's status (running, jobs, last accepted result...)."""
        return self._training.status()

    @property
    def training_future(self) -> concurrent.futures.Future[Any] | None:
        """The in-flight background training job, or ``None``.

        A ``concurrent.futures.Future``: a Bluesky plan waits on it through RunEngine
        messages instead of blocking (``gpsteer.plans``).
        """
        return self._training.manager.future

    def cancel_training(self) -> None:
        """Cancel the in-flight training job (if any) without closing the agent."""
        self._training.cancel()

    def poll_training(self) -> None:
        """Take a finished background training result, if any (``tell``/``ask`` do this too)."""
        if self.n:
            with compute_threads(self._num_threads):
                self._poll()
            self._sync_version()

    # ------------------------------------------------------------------ decisions
    def ask(
        self,
        n: int = 1,
        *,
        current_position: Any = None,
        pending: Any = None,
        candidates: Any = None,
    ) -> Suggestion:
        """Choose ``n`` points to measure next (jointly), ordered for a short motor path.

        Parameters
        ----------
        current_position
            Where the motors are, ``(d,)`` (default: the last point told); the start of the
            path and of motion costs.
        pending
            ``(m, d)`` points already suggested but not yet measured: the batch avoids them.
        candidates
            ``(N, d)`` allowed positions for this call (default: the agent's, if any).
        """
        n = check_count(n)
        position = self._check_position(current_position)
        pending_arr = None if pending is None else check_points(pending, self._bounds, "pending")
        if pending_arr is not None and pending_arr.shape[0] == 0:
            pending_arr = None
        cand = (
            self._candidates if candidates is None else check_candidates(candidates, self._bounds)
        )
        requested, news = self._interventions.take(n)
        if len(requested):
            suggestion = self._with_requests(requested, news, n, position, pending_arr, cand)
            return suggestion
        if self.n == 0:
            return self._noting(self._initial_design(n, cand, pending_arr, position), news)
        return self._noting(self._choose(n, position, pending_arr, cand), news)

    def _choose(
        self, n: int, position: Any, pending_arr: np.ndarray | None, cand: np.ndarray | None
    ) -> Suggestion:
        """``n`` points by the acquisition (the agent has data)."""
        self.poll_training()
        with compute_threads(self._num_threads):
            box = cand is None
            seeds = (
                sobol_points(self._bounds, self._optimizer.n_candidates, self._rng) if box else cand
            )
            sel = select_batch(
                self._acquisition,
                self.gp,
                n,
                bounds=self._bounds,
                candidates=seeds,
                discrete=not box,
                context=AcquisitionContext(to_model=self._transform.to_model),
                constraints=self._all_constraints(),
                pending=pending_arr,
                motion=self._motion,
                position=position,
                n_starts=self._optimizer.n_starts,
                max_iter=self._optimizer.max_iter,
            )
            order = order_path(sel.points, position, self._motion)
            points = sel.points[order]
            post = self.predict(points)
        travel = None
        if self._motion is not None and position is not None:
            travel = path_time(points, position, self._motion)
        return Suggestion(
            points=points,
            acquisition=self._acquisition.name,
            values=sel.values[order],
            model_version=self.model_version,
            predicted_mean=post.mean,
            predicted_std=np.sqrt(post.variance),
            fallback=sel.fallback,
            message="; ".join(sel.messages),
            travel_time_s=travel,
            terms=tuple(sel.terms[i] for i in order) if sel.terms else (),
        )

    def _initial_design(
        self, n: int, cand: np.ndarray | None, pending: np.ndarray | None, position: Any
    ) -> Suggestion:
        points = space_filling(
            self._bounds,
            n,
            self._rng,
            candidates=cand,
            constraints=self._all_constraints(),
            exclude=pending,
        )
        points = points[order_path(points, position, self._motion)]
        nan = np.full(n, np.nan)
        return Suggestion(
            points=points,
            acquisition="initial_design",
            values=nan,
            model_version=self.model_version,
            predicted_mean=nan.copy(),
            predicted_std=nan.copy(),
            message="No data yet: a space-filling initial design (no model was used).",
        )

    def _all_constraints(self) -> list[Constraint]:
        """The agent's constraints and the boxes a scientist forbade."""
        return [*self._constraints, *self._interventions.constraints()]

    @staticmethod
    def _noting(suggestion: Suggestion, news: list[str]) -> Suggestion:
        if not news:
            return suggestion
        message = "; ".join([m for m in (suggestion.message, *news) if m])
        return dataclasses.replace(suggestion, message=message)

    def _with_requests(
        self,
        requested: np.ndarray,
        news: list[str],
        n: int,
        position: Any,
        pending: np.ndarray | None,
        cand: np.ndarray | None,
    ) -> Suggestion:
        """The requested points first (in the order asked), then the acquisition's."""
        rest = n - len(requested)
        others = None
        if rest > 0:
            busy = requested if pending is None else np.vstack([pending, requested])
            ahead = requested[-1]
            others = (
                self._initial_design(rest, cand, busy, ahead)
                if self.n == 0
                else self._choose(rest, ahead, busy, cand)
            )
        nan = np.full(len(requested), np.nan)
        mean, std = nan, nan.copy()
        if self.n:
            post = self.predict(requested)
            mean, std = post.mean, np.sqrt(post.variance)
        terms = tuple({"reason": "requested"} for _ in requested)
        mine = Suggestion(
            points=requested,
            acquisition="requested",
            values=nan.copy(),
            model_version=self.model_version,
            predicted_mean=mean,
            predicted_std=std,
            terms=terms,
        )
        if others is not None:
            mine = dataclasses.replace(
                mine,
                points=np.vstack([requested, others.points]),
                values=np.concatenate([mine.values, others.values]),
                predicted_mean=np.concatenate([mean, others.predicted_mean]),
                predicted_std=np.concatenate([std, others.predicted_std]),
                terms=terms + (others.terms or tuple({} for _ in others.points)),
                message=others.message,
                fallback=others.fallback,
            )
        return self._noting(mine, news)

    # ------------------------------------------------------------------ interventions
    def measure_next(self, points: Any, *, origin: str = "session") -> None:
        """Measure ``points`` ``(m, d)`` at the next decisions, before anything the
        acquisition would choose, in this order. Safe from another thread while a run
        goes on; the decision that takes them records it (``origin``, time)."""
        points = check_points(points, self._bounds, "points")
        self._interventions.request_points(points, str(origin))

    def forbid(
        self, lo: Sequence[float], hi: Sequence[float], *, origin: str = "session"
    ) -> ForbiddenBox:
        """Never suggest points inside the box ``lo < x < hi`` (user units), from the next
        decision on; requested points inside it are dropped. Returns the box (for
        :meth:`allow`). Kept in the agent's state: replay and resume honour it."""
        return self._interventions.forbid(lo, hi, str(origin))

    def allow(self, box: ForbiddenBox, *, origin: str = "session") -> None:
        """Suggest points in a forbidden box again."""
        self._interventions.allow(box, str(origin))

    @property
    def forbidden(self) -> list[ForbiddenBox]:
        """The boxes a scientist forbade, oldest first."""
        return list(self._interventions.boxes)

    def stop_after_current(self, *, origin: str = "session") -> None:
        """Ask the plan to stop before its next decision: the points already chosen are
        measured, nothing more (stop reason ``requested``)."""
        self._interventions.request_stop(str(origin))

    def take_stop_request(self) -> str | None:
        """Who asked for a stop and when, once (the plan's stopping rules call this)."""
        return self._interventions.take_stop()

    def _check_position(self, position: Any) -> np.ndarray | None:
        if position is None:
            return self._X[-1].copy() if self.n else None
        points = check_points(position, self._bounds, "current_position")
        if points.shape[0] != 1:
            raise ShapeError(
                f"current_position must be one point, ({self.dim},); got shape "
                f"{np.shape(position)}."
            )
        return points[0]

    def _require_data(self) -> None:
        if self.n == 0:
            raise NotFittedError("The agent has no data yet; tell() it some measurements first.")

    # ------------------------------------------------------------------ model queries
    def predict(self, Xq: Any) -> Posterior:
        """Posterior ``mean`` and ``variance`` ``(m,)`` of the field at ``Xq``, user units."""
        self._require_data()
        Xq = check_points(Xq, self._bounds, "Xq", tolerance=np.inf)
        with compute_threads(self._num_threads):
            post = self.gp.predict(Xq)
        mean = post.mean
        if self._map_check is not None and self._map_check.uses_interpolation:
            ym = self._transform.forward(self._y)
            mean = interpolated_map(self._unit(self._X), ym, self._unit(Xq))
        mean, var = self._transform.inverse_moments(mean, post.variance)
        return Posterior(mean=mean, variance=var)

    def acquisition_surface(self, Xq: Any) -> tuple[np.ndarray, str]:
        """The acquisition's value at ``Xq`` ``(m, d)`` as the next decision scores it, and
        what it is (``map``: ``coverage`` while a hole is wider than the floor, else
        ``uncertainty``; other acquisitions: their name).

        Why: a scientist sees where the agent wants to go and why (the live plot draws
        it). Pending points, motion cost and constraints are left out: this is the
        surface the decision starts from.
        """
        self._require_data()
        Xq = check_points(Xq, self._bounds, "Xq", tolerance=np.inf)
        context = AcquisitionContext(to_model=self._transform.to_model)
        with compute_threads(self._num_threads), torch.no_grad():
            scorer = self._acquisition.bind(self.gp, context)
            values = scorer(torch.as_tensor(Xq, dtype=self.gp.dtype, device=self.gp.device))
        return values.cpu().numpy(), str(getattr(scorer, "reason", self._acquisition.name))

    def max_uncertainty(self) -> float:
        """Largest posterior standard deviation over the domain (user units): a stopping signal.

        Searched like an acquisition (Sobol candidates plus gradient polish), over the
        candidate set and constraints when the agent has them.
        """
        self._require_data()
        transform, gp = self._transform, self.gp

        def user_std(X: torch.Tensor) -> torch.Tensor:
            post = gp.posterior(X)
            var = post.variance.clamp_min(1e-20 * gp.y_scale**2)
            if transform.name == "log":
                return torch.sqrt(torch.expm1(var)) * torch.exp(post.mean + 0.5 * var)
            return var.sqrt()

        box = self._candidates is None
        with compute_threads(self._num_threads):
            # A fresh generator: a query neither changes the agent nor varies between calls.
            rng = np.random.default_rng(0 if self._seed is None else self._seed)
            seeds = (
                sobol_points(self._bounds, self._optimizer.n_candidates, rng)
                if box
                else self._candidates
            )
            out = maximize(
                user_std,
                self._bounds,
                seeds,
                discrete=not box,
                constraints=self._constraints,
                n_starts=self._optimizer.n_starts,
                max_iter=self._optimizer.max_iter,
                dtype=gp.dtype,
                device=gp.device,
            )
        return float(out.value)

    # ------------------------------------------------------------------ run
    def run(
        self,
        instrument: Callable[[np.ndarray], Any],
        max_points: int | None = None,
        *,
        batch_size: int = 1,
        max_time: float | None = None,
        target_uncertainty: float | None = None,
        stop_when: Callable[[Agent, Progress], bool] | None = None,
        initial_points: int | None = None,
        progress: bool = True,
    ) -> RunResult:
        """Measure with ``instrument(points) -> values`` (or ``(values, variances)``) until a
        stopping rule holds: the rules, first design and stop reasons of
        :func:`~gpsteer.plans.autonomous_plan` (:mod:`gpsteer.agent.stopping`); see
        :func:`gpsteer.agent.loop.run_agent`. ``stop_when(agent, progress) -> bool``."""
        if stop_when is not None:
            stop_when = predicate_of_two(stop_when)
        rules = StoppingRules(max_points, max_time, target_uncertainty, stop_when)
        return run_agent(
            self,
            instrument,
            rules=rules,
            batch_size=batch_size,
            initial_points=initial_points,
            progress=progress,
        )

    # ------------------------------------------------------------------ state
    def configuration(self) -> dict[str, Any]:
        """The settings, JSON-able (for a run's start document and for :meth:`state`).

        Objects a configuration cannot hold (user kernels, callables) appear as
        ``{"custom": repr}``; :meth:`from_state` then asks for them again.
        """
        return {
            "bounds": self._bounds.tolist(),
            "dimension_names": list(self._names),
            "value_name": self._value_name,
            **self._config_entries,
            "acquisition": self._acquisition.configuration(),
            "output_transform": self._transform.name,
            "train_schedule": self._schedule.configuration() if self._schedule else None,
            "seed": self._seed,
            "motion_cost": self._motion.configuration() if self._motion else None,
            "candidates": None if self._candidates is None else len(self._candidates),
            "constraints": [getattr(g, "__name__", repr(g)) for g in self._constraints],
            "optimizer": {
                "n_candidates": self._optimizer.n_candidates,
                "n_starts": self._optimizer.n_starts,
                "max_iter": self._optimizer.max_iter,
            },
            "num_threads": self._num_threads,
            "exact_limit": self._exact_limit,
        }

    def snapshot(self) -> dict[str, Any]:
        """The model without its data, JSON-able: what a run records with each decision.

        With :meth:`configuration` and the data it rebuilds this posterior exactly
        (:meth:`from_snapshot`): the hyperparameters, the raw vector ``theta`` (to the bit
        through JSON), the data sizes at which the outputs were standardised, the model
        version, the training bookkeeping and the random state.
        """
        fitted = self.n > 0
        return {
            "format": STATE_FORMAT,
            "format_version": STATE_VERSION,
            "hyperparameters": self.gp.hyperparameters() if fitted else {},
            "model_version": self._version,
            "standardized_at": list(self.gp.standardized_at) if fitted else [],
            "last_trained_n": self._last_trained_n,
            "rng_state": self._rng.bit_generator.state,
            "next_id": self.optimizer.next_id,
            "theta": self.gp.theta.detach().cpu().numpy().tolist() if fitted else [],
            "structure": None if self._structure is None else self._structure.to_dict(),
            "map_check": None if self._map_check is None else self._map_check.to_dict(),
            "model": self.model_kind if fitted else None,
            "interventions": self._interventions.to_dict(),
        }

    def state(self) -> AgentState:
        """Everything needed to rebuild this agent and its posterior (see :meth:`from_state`)."""
        metadata = self.snapshot()
        theta = np.asarray(metadata.pop("theta"), dtype=np.float64)
        metadata.update(
            configuration=self.configuration(),
            point_ids=list(self._point_ids),
            **self.optimizer.state(),
        )
        arrays = {"X": self.X, "y": self.y, "theta": theta}
        if self._nv is not None:
            arrays["noise_variance"] = self._nv.copy()
        if self._candidates is not None:
            arrays["candidates"] = self._candidates.copy()
        return AgentState(metadata=metadata, arrays=arrays)

    @classmethod
    def from_state(cls, state: AgentState, **overrides: Any) -> Agent:
        """Rebuild an agent from :meth:`state`; predictions agree to rounding.

        ``overrides`` replace constructor arguments, and must supply the objects the
        configuration could not hold (user kernels, callables, constraints).
        """
        if not isinstance(state, AgentState):
            raise InputError(f"from_state needs an AgentState; got {type(state).__name__}.")
        state.check()
        agent = cls(**constructor_arguments(state, overrides))
        agent._load(state, keep_seed="seed" in overrides)
        return agent

    @classmethod
    def from_snapshot(
        cls,
        configuration: dict[str, Any],
        snapshot: dict[str, Any],
        X: Any,
        y: Any,
        noise_variance: Any = None,
        **overrides: Any,
    ) -> Agent:
        """Rebuild an agent from :meth:`configuration`, :meth:`snapshot` and the data it held.

        ``X``, ``y`` (and ``noise_variance``) are the data in the order it was told;
        ``overrides`` as for :meth:`from_state`. A snapshot taken before the model had
        data (a run that failed during its first design) gives an agent told the data.
        """
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        nv = None if noise_variance is None else np.asarray(noise_variance, dtype=np.float64)
        state, untold = snapshot_state(configuration, snapshot, X, y, nv)
        agent = cls.from_state(state, **overrides)
        if untold:
            agent.tell(X, y, noise_variance=nv)
        return agent

    def _load(self, state: AgentState, *, keep_seed: bool) -> None:
        """Take the data and bookkeeping of ``state`` (checked) into this new agent."""
        meta, arrays = state.metadata, state.arrays
        X, y = np.asarray(arrays["X"], dtype=float), np.asarray(arrays["y"], dtype=float)
        nv = arrays.get("noise_variance")
        nv = None if nv is None else np.asarray(nv, dtype=float)
        if y.size:
            steps, restandardize_rest = standardization_steps(meta, y.size)
            ym = self._transform.forward(y)
            nvm = None if nv is None else self._transform.forward_variance(y, nv)
            with compute_threads(self._num_threads):
                self.gp.set_data_in_steps(X, ym, nvm, steps, restandardize_rest=restandardize_rest)
                self.gp = model_for_size(self.gp, self._exact_limit)
                self.gp.set_hyperparameters(meta["hyperparameters"])
                self.gp.set_theta(np.asarray(arrays["theta"], dtype=float))
                if meta.get("structure"):
                    self._structure = StructureSource.from_dict(meta["structure"])
                    restore_structure(self.gp, self._structure)
            self._X, self._y = X.copy(), y.copy()
            self._nv = None if nv is None else nv.copy()
            edges = None if self._structure is None else self._structure.n_points
            self._model_key = (
                tuple(self.gp.theta.cpu().tolist()),
                self.gp.y_scale,
                edges,
                self.model_kind,
            )
            check = meta.get("map_check")
            self._map_check = MapCheck.from_dict(check) if check else None
        self._version = int(meta["model_version"])
        self._last_trained_n = meta["last_trained_n"]
        if not keep_seed:
            self._rng.bit_generator.state = meta["rng_state"]
        self._point_ids = list(meta["point_ids"])
        self._interventions.restore(meta.get("interventions"))
        self.optimizer.restore(meta)

    # -- bluesky-adaptive 1.0's Optimizer protocol (gpsteer.agent.bluesky_adaptive) ------
    def suggest(self, num_points: int | None = None) -> list[dict[str, Any]]:
        """``num_points`` (default 1) points as dicts ``{"_id": int, "x0": ..., ...}``."""
        return self.optimizer.suggest(num_points)

    def ingest(self, points: Sequence[Mapping[str, Any]]) -> None:
        """Tell measured points given as dicts: the value key, and the ``_id`` of a
        suggestion or the dimension keys."""
        self.optimizer.ingest(points)

    def get_best_points(self) -> list[tuple[Any, dict[str, float], dict[str, float]]]:
        """The measured point with the best posterior mean: ``[(id, parameters, outcomes)]``."""
        return self.optimizer.get_best_points()

    def register_suggestions(self, suggestions: Sequence[Mapping[str, Any]]) -> list[dict]:
        """Points chosen elsewhere, given ids and kept pending as if suggested."""
        return self.optimizer.register_suggestions(suggestions)

    def register_failures(self, suggestions: Sequence[Mapping[str, Any]]) -> None:
        """Suggestions that will not be measured: no longer pending."""
        self.optimizer.register_failures(suggestions)

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        """Stop background training and release its resources."""
        self._training.close()

    def __enter__(self) -> Agent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"Agent(dim={self.dim}, n={self.n}, acquisition={self._acquisition.name!r}, "
            f"output_transform={self._transform.name!r}, version={self._version})"
        )
