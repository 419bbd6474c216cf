"""autonomous_plan refuses bad arguments when it is called, before any message exists.

Each case checks the exception class, that the message says what to change, and that
no motor moved (the plan never reached a RunEngine).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from ophyd.sim import SynAxis, SynSignal, motor1, motor2, motor3

from gpsteer import Agent
from gpsteer.callbacks import LiveAgentPlot
from gpsteer.errors import ConfigurationError, InputError, ShapeError, UnknownNameError
from gpsteer.plans import autonomous_plan
from gpsteer.plans.space import make_space, readback_field
from gpsteer.plans.validation import check_initial_points, make_target


class LimitedAxis(SynAxis):
    """A simulated motor with soft limits, like an EpicsMotor's ``.limits``."""

    def __init__(self, *, limits: tuple[float, float], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._limits = limits

    @property
    def limits(self) -> tuple[float, float]:
        return self._limits


det = SynSignal(func=lambda: motor1.position + motor2.position, name="det")
spectrum = SynSignal(func=lambda: np.zeros(16), name="spectrum")
SPACE = {motor1: (-1.0, 1.0), motor2: (-1.0, 1.0)}


def _call(**overrides: Any) -> None:
    kwargs: dict[str, Any] = {
        "detectors": [det],
        "space": SPACE,
        "target": "det",
        "max_points": 10,
        "progress": False,
    }
    kwargs.update(overrides)
    detectors, space = kwargs.pop("detectors"), kwargs.pop("space")
    autonomous_plan(detectors, space, **kwargs)


CASES = [
    ({"space": {motor1: (1.0, -1.0)}}, InputError, "inverted"),
    ({"space": {motor1: (0.5, 0.5)}}, InputError, "zero width"),
    ({"space": {motor1: (0.0, float("nan"))}}, InputError, "finite"),
    ({"space": {motor1: (0.0,)}}, InputError, r"\(lo, hi\) pair"),
    ({"space": {}}, InputError, "non-empty mapping"),
    ({"space": {"motor1": (0, 1)}}, InputError, "movable device"),
    ({"space": {motor1: (-1.0, 1.0), det: (0.0, 1.0)}}, InputError, "computed signal"),
    ({"target": "nope"}, UnknownNameError, "the detectors read"),
    ({"target": ("det", "det_variance")}, UnknownNameError, "det_variance"),
    ({"target": 3}, InputError, "event field name"),
    ({"detectors": [spectrum], "target": "spectrum"}, InputError, "reduction"),
    ({"detectors": []}, InputError, "detectors is empty"),
    ({"detectors": det}, InputError, "list of readable"),
    ({"max_points": 0}, InputError, "max_points"),
    ({"max_points": 2.5}, InputError, "max_points"),
    ({"batch_size": 0}, InputError, "batch_size"),
    ({"max_time": -1.0}, InputError, "max_time"),
    ({"target_uncertainty": 0.0}, InputError, "target_uncertainty"),
    ({"stop_when": "yes"}, InputError, "stop_when"),
    ({"initial_points": 11}, InputError, "more than max_points"),
    ({"initial_points": [[0.0, 0.0, 0.0]]}, ShapeError, r"\(n, 2\)"),
    ({"initial_points": [[0.0, 5.0]]}, InputError, "outside its bounds"),
    ({"md": ["not", "a", "mapping"]}, InputError, "md must be a mapping"),
    ({"agent": Agent(bounds=[(-1, 1)])}, ConfigurationError, "models 1 inputs"),
    ({"agent": object()}, ConfigurationError, "lacks \\['dim', 'bounds'"),
    ({"agent": Agent(bounds=[(-1, 1), (-1, 2)])}, ConfigurationError, "outside the bounds"),
    ({"agent": Agent(bounds=[(-1, 1), (-1, 1)]), "seed": 3}, ConfigurationError, "seed"),
    ({"live_plot": "yes"}, InputError, "LiveAgentPlot"),
    (
        {"live_plot": LiveAgentPlot(), "space": {**SPACE, motor3: (0, 1)}},
        ConfigurationError,
        "3 motors",
    ),
]


@pytest.mark.parametrize(("overrides", "error", "message"), CASES)
def test_bad_arguments_raise_at_call_time(overrides: dict, error: type, message: str) -> None:
    before = (motor1.position, motor2.position)
    with pytest.raises(error, match=message):
        _call(**overrides)
    assert (motor1.position, motor2.position) == before


def test_bounds_outside_a_motors_limits_are_refused() -> None:
    stage = LimitedAxis(name="stage", limits=(-5.0, 5.0))
    with pytest.raises(InputError, match=r"choose bounds within \[-5.0, 5.0\]"):
        make_space({stage: (-6.0, 0.0)})
    assert make_space({stage: (-5.0, 5.0)}).bounds.tolist() == [[-5.0, 5.0]]
    # (0, 0) is ophyd's "no limits"
    free = LimitedAxis(name="free", limits=(0.0, 0.0))
    assert make_space({free: (-100.0, 100.0)}).dim == 1
    assert stage.position == 0.0


def test_the_space_keeps_order_names_and_readback_fields() -> None:
    space = make_space({motor2: (0, 1), motor1: (-2, 2)})
    assert space.names == ("motor2", "motor1")
    assert space.fields == ("motor2", "motor1")
    assert space.bounds.tolist() == [[0.0, 1.0], [-2.0, 2.0]]
    assert space.axes()[1].to_metadata() == {
        "motor": "motor1",
        "field": "motor1",
        "lo": -2.0,
        "hi": 2.0,
    }
    assert readback_field(motor1) == "motor1"


def test_two_entries_for_one_motor_name_are_refused() -> None:
    twin = SynAxis(name="motor1")
    with pytest.raises(ConfigurationError, match="share a name"):
        make_space({motor1: (0, 1), twin: (0, 1)})


def test_targets_are_fields_pairs_or_reductions() -> None:
    space = make_space(SPACE)
    assert make_target("det", [det], space).metadata() == {
        "kind": "field",
        "field": "det",
        "variance_field": None,
    }
    # a motor's reading is a valid target too (it is in every event)
    assert make_target("motor1", [det], space).field == "motor1"

    def reduction(readings: dict) -> tuple[float, float]:
        return float(np.sum(readings["spectrum"])), 0.1

    spec = make_target(reduction, [spectrum], space)
    assert spec.metadata()["kind"] == "reduction"
    assert spec.evaluate({"spectrum": np.ones(4)}) == (4.0, 0.1)
    with pytest.raises(ShapeError, match="one number"):
        make_target("det", [det], space).evaluate({"det": np.ones(3)})


def test_explicit_initial_points_are_returned_as_an_array() -> None:
    space = make_space(SPACE)
    points = check_initial_points([[0.0, 0.5], [-1.0, 1.0]], space, max_points=5)
    assert isinstance(points, np.ndarray) and points.shape == (2, 2)
    assert check_initial_points(3, space, max_points=5) == 3


def test_messages_show_plain_numbers_not_numpy_reprs() -> None:
    """Issue 14, item 8: a message read ``(np.float64(-5.0), np.float64(5.0))``."""
    from gpsteer.plans.validation import check_agent

    space = make_space({SynAxis(name="sx"): (-1.0, 1.0)})
    with pytest.raises(ConfigurationError) as raised:
        check_agent(Agent(bounds=[(-5.0, 5.0)]), space)
    assert "np.float64" not in str(raised.value)
    assert "(-5.0, 5.0)" in str(raised.value) and "(-1.0, 1.0)" in str(raised.value)
