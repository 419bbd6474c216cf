"""Bad input to the plans layer: refused before anything moves, or contained as a recorded
rejection. No services: documents are composed with event-model, as a RunEngine would.

Already covered, not repeated: inverted / zero-width / NaN bounds, bounds outside a
motor's limits, unknown target fields, array targets, agent dimension mismatch,
``max_points=0``, negative ``max_time`` (``test_plans_validation.py``, and inside a
RunEngine ``test_autonomous_plan.py::test_bad_arguments_stop_a_plan_before_any_set_message``);
NaN readings and readbacks outside the bounds (``test_plans_callback.py``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from event_model import compose_run
from ophyd.sim import SynSignal, motor1, motor2

from gpsteer import Agent
from gpsteer.callbacks import AgentFeeder
from gpsteer.errors import InputError, RejectedReadingError, ShapeError
from gpsteer.plans import autonomous_plan
from gpsteer.schema import TargetSpec

det = SynSignal(func=lambda: motor1.position, name="det")
SPACE = {motor1: (-1.0, 1.0), motor2: (-1.0, 1.0)}
KEYS = {
    name: {"source": "sim", "dtype": "number", "shape": []} for name in ("x", "y", "det", "det_var")
}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"max_points": -3}, "max_points"),
        ({"max_points": True}, "max_points"),
        ({"batch_size": -1}, "batch_size"),
        ({"initial_points": -1}, "initial_points"),
        ({"max_time": 0.0}, "max_time"),
        ({"max_time": math.inf}, "max_time"),
        ({"max_time": math.nan}, "max_time"),
        ({"target_uncertainty": -0.5}, "target_uncertainty"),
        ({"initial_points": [[0.0, math.nan]]}, "NaN"),
    ],
)
def test_negative_and_non_finite_budgets_are_refused_at_call_time(
    overrides: dict[str, Any], message: str
) -> None:
    before = (motor1.position, motor2.position)
    kwargs: dict[str, Any] = {"target": "det", "max_points": 10, "progress": False}
    kwargs.update(overrides)
    with pytest.raises(InputError, match=message):
        autonomous_plan([det], SPACE, **kwargs)
    assert (motor1.position, motor2.position) == before


# -- the document callback -------------------------------------------------------------


class Run:
    """A run being composed and fed to ``feeder``: start, a primary descriptor, events."""

    def __init__(self, feeder: AgentFeeder) -> None:
        self.feeder = feeder
        self.bundle = compose_run()
        feeder("start", self.bundle.start_doc)
        self.primary = self.bundle.compose_descriptor(name="primary", data_keys=KEYS)
        feeder("descriptor", self.primary.descriptor_doc)

    def event(self, seq_num: int, x: float, det: float, var: float = 0.01) -> None:
        data = {"x": x, "y": 0.5, "det": det, "det_var": var}
        self.feeder(
            "event",
            self.primary.compose_event(
                data=data, timestamps=dict.fromkeys(data, 0.0), seq_num=seq_num
            ),
        )


def saturation_checked(readings: dict[str, Any]) -> float:
    """A reduction that refuses readings at or above its detector's saturation level."""
    if readings["det"] >= 1000.0:
        raise RejectedReadingError(f"saturated: {readings['det']} counts")
    return float(readings["det"])


def test_a_reduction_rejects_a_reading_with_its_reason() -> None:
    agent = Agent(bounds=[(0, 1), (0, 1)], train_schedule="never", seed=0)
    feeder = AgentFeeder(agent, ["x", "y"], TargetSpec(reduction=saturation_checked))
    run = Run(feeder)
    run.event(1, 0.1, 10.0)
    run.event(2, 0.2, 1000.0)
    run.event(3, 0.3, 30.0)
    assert [(r.seq_num, r.reason) for r in feeder.rejected] == [(2, "saturated: 1000.0 counts")]
    np.testing.assert_array_equal(agent.y, [10.0, 30.0])


def test_a_reduction_that_raises_names_the_event() -> None:
    def broken(readings: dict[str, Any]) -> float:
        return float(readings["det"]) / (readings["x"] - 0.2)  # fails at x = 0.2

    agent = Agent(bounds=[(0, 1), (0, 1)], train_schedule="never", seed=0)
    feeder = AgentFeeder(agent, ["x", "y"], TargetSpec(reduction=broken))
    run = Run(feeder)
    run.event(1, 0.1, 1.0)
    with pytest.raises(InputError, match=r"event seq_num 2 of the 'primary' stream") as raised:
        run.event(2, 0.2, 1.0)
    assert isinstance(raised.value.__cause__, ZeroDivisionError)
    assert "broken" in str(raised.value)
    assert agent.n == 1 and feeder.rejected == []


def test_a_reduction_returning_a_wrong_shape_names_the_event() -> None:
    feeder = AgentFeeder(None, ["x", "y"], TargetSpec(reduction=lambda r: (1.0, 2.0, 3.0)))
    run = Run(feeder)
    with pytest.raises(InputError, match="event seq_num 1") as raised:
        run.event(1, 0.1, 1.0)
    assert isinstance(raised.value.__cause__, ShapeError)


@pytest.mark.parametrize(
    ("det", "var", "reason"),
    [
        (math.inf, 0.01, "the target value is inf"),
        (-math.inf, 0.01, "the target value is -inf"),
        (1e200, 0.01, "too large to model"),
        (1.0, math.nan, "the noise variance is nan"),
        (1.0, 1e305, "the noise variance is 1e+305"),
    ],
)
def test_values_the_model_cannot_hold_are_recorded_rejections(
    det: float, var: float, reason: str
) -> None:
    agent = Agent(bounds=[(0, 1), (0, 1)], train_schedule="never", seed=0)
    feeder = AgentFeeder(agent, ["x", "y"], TargetSpec(field="det", variance_field="det_var"))
    run = Run(feeder)
    run.event(1, 0.1, det, var)
    run.event(2, 0.2, 2.0)
    assert len(feeder.rejected) == 1 and reason in feeder.rejected[0].reason
    assert agent.n == 1  # the next good reading was told; nothing raised


def test_replay_of_a_run_that_failed_before_its_first_model() -> None:
    """A run that failed during its first design recorded only data-less models."""
    empty = Agent(bounds=[(0, 1), (0, 1)], seed=0)
    X = np.random.default_rng(0).uniform(size=(5, 2))
    rebuilt = Agent.from_snapshot(empty.configuration(), empty.snapshot(), X, X[:, 0])
    assert rebuilt.n == 5
    np.testing.assert_array_equal(rebuilt.X, X)
    assert np.isfinite(rebuilt.predict(X).mean).all()
