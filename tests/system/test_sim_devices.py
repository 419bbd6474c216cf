"""Simulated end stations through ophyd and a real RunEngine.

Uses the session IOC fixtures of ``conftest.py``. Assertions are about values
(positions, counters, reductions vs ground truth), never about elapsed time.
"""

from __future__ import annotations

import bluesky.plans as bp
import numpy as np
import pytest
from bluesky import RunEngine

from gpsteer.devices.end_stations import SaxsDetector

pytestmark = pytest.mark.system

#: Reduced fields checked against ground truth: event field -> ground-truth key.
TRACKED = {
    "saxs": {"q0": "q0", "intensity": "intensity", "peak_width": "peak_width"},
    "arpes": {"intensity": "fermi_intensity", "band_energy": "band_energy"},
    "ir": {"band_ratio": "band_ratio", "band_1730": "band_1730", "band_1650": "band_1650"},
}


@pytest.fixture
def RE():
    return RunEngine({})


def _collect(RE, plan) -> list[dict]:
    events: list[dict] = []
    RE(plan, lambda name, doc: events.append(doc) if name == "event" else None)
    return events


def _check_tracks_truth(kind: str, sample, events: list[dict]) -> None:
    """Each reduction is within 5 predicted standard deviations (+1 % bias room)."""
    assert events, "the plan produced no events"
    for event in events:
        data = event["data"]
        x, y = data[f"{kind}_stage_x"], data[f"{kind}_stage_y"]
        truth = sample.ground_truth(x, y)
        for field, key in TRACKED[kind].items():
            value = data[f"{kind}_{field}"]
            sigma = np.sqrt(data[f"{kind}_{field}_variance"])
            allowed = 5 * sigma + 0.01 * abs(truth[key])
            assert abs(value - truth[key]) <= allowed, (
                f"{kind}_{field}={value:.5g} but truth {truth[key]:.5g} at ({x:.3f}, {y:.3f}), "
                f"sigma {sigma:.3g}"
            )


def _scan_points(sample) -> tuple[list[float], list[float]]:
    """The domain centre, two opposite corners and the first two small features."""
    points = [(0.0, 0.0), (3.5, 3.5), (-3.5, -3.5)]
    points += [(round(f.x, 3), round(f.y, 3)) for f in sample.features[:2]]
    return [p[0] for p in points], [p[1] for p in points]


@pytest.mark.parametrize("kind", ["saxs", "arpes", "ir"])
def test_two_plans_in_a_row_track_ground_truth(kind, request, RE):
    """list_scan then grid_scan on one IOC: the second plan's moves are not cancelled
    by the first plan's closing stop(), and reductions follow the hidden sample."""
    handle = request.getfixturevalue(f"{kind}_ioc")
    stage, detector = request.getfixturevalue(f"{kind}_station")
    sample = handle.sample()
    xs, ys = _scan_points(sample)

    first = _collect(RE, bp.list_scan([detector], stage.x, xs, stage.y, ys))
    assert len(first) == len(xs)
    for event, x, y in zip(first, xs, ys, strict=True):
        assert event["data"][f"{kind}_stage_x"] == pytest.approx(x, abs=1e-3)
        assert event["data"][f"{kind}_stage_y"] == pytest.approx(y, abs=1e-3)
    _check_tracks_truth(kind, sample, first)

    second = _collect(RE, bp.grid_scan([detector], stage.y, -1.0, 1.0, 2, stage.x, 1.0, 2.0, 2))
    got = sorted(
        (round(e["data"][f"{kind}_stage_x"], 3), round(e["data"][f"{kind}_stage_y"], 3))
        for e in second
    )
    assert got == [(1.0, -1.0), (1.0, 1.0), (2.0, -1.0), (2.0, 1.0)]
    _check_tracks_truth(kind, sample, second)


def test_events_hold_the_array_and_its_description(saxs_station, RE):
    _, detector = saxs_station
    docs: list[tuple[str, dict]] = []
    RE(bp.count([detector]), lambda name, doc: docs.append((name, doc)))
    descriptor = next(doc for name, doc in docs if name == "descriptor")
    event = next(doc for name, doc in docs if name == "event")
    key = descriptor["data_keys"]["saxs_image"]
    assert key["dtype"] == "array" and key["shape"] == [64, 64]
    assert np.asarray(event["data"]["saxs_image"]).shape == (64, 64)
    assert set(descriptor["hints"]["saxs"]["fields"]) == {"saxs_intensity", "saxs_q0"}


def test_describe_knows_the_image_shape_before_any_frame(saxs_ioc):
    fresh = SaxsDetector(saxs_ioc.prefix, name="fresh")
    fresh.wait_for_connection(timeout=15)
    key = fresh.describe()["fresh_image"]
    assert key["shape"] == [64, 64] and key["dtype_numpy"] == "<i4"


def test_trigger_waits_for_a_fresh_frame(saxs_station):
    _, detector = saxs_station
    before = int(detector.acq.array_counter.get(use_monitor=False))
    detector.trigger().wait(timeout=15)
    first = np.array(detector.image.get())
    detector.trigger().wait(timeout=15)
    second = np.array(detector.image.get())
    assert int(detector.acq.array_counter.get(use_monitor=False)) == before + 2
    assert not np.array_equal(first, second), "two exposures share no Poisson noise"


def test_longer_exposure_gives_more_counts_and_smaller_variance(saxs_station):
    stage, detector = saxs_station
    stage.x.set(0.0).wait(timeout=15)
    stage.y.set(0.0).wait(timeout=15)
    results = {}
    try:
        for exposure in (0.05, 0.5):
            detector.acq.acquire_time.set(exposure).wait(timeout=5)
            detector.trigger().wait(timeout=15)
            results[exposure] = (
                float(np.sum(detector.image.get())),
                float(detector.q0_variance.get()),
            )
    finally:
        detector.acq.acquire_time.set(0.1).wait(timeout=5)
    counts_ratio = results[0.5][0] / results[0.05][0]
    variance_ratio = results[0.05][1] / results[0.5][1]
    assert 9.0 < counts_ratio < 11.0
    assert 5.0 < variance_ratio < 20.0


def test_motor_limits_are_the_control_limits(saxs_station):
    stage, _ = saxs_station
    assert stage.x.limits == (-6.0, 6.0)
    assert stage.y.limits == (-6.0, 6.0)
    assert stage.x.motor_egu.get() == "mm"
    with pytest.raises(ValueError, match="outside of range"):
        stage.x.set(7.0)


def test_zero_length_move_toggles_done_moving(saxs_station):
    stage, _ = saxs_station
    stage.x.set(0.5).wait(timeout=15)
    seen: list[int] = []
    token = stage.x.motor_done_move.subscribe(lambda value, **kw: seen.append(int(value)))
    try:
        status = stage.x.set(stage.x.position)
        status.wait(timeout=15)
    finally:
        stage.x.motor_done_move.unsubscribe(token)
    assert status.success
    assert 0 in seen and seen[-1] == 1, f"DMOV sequence {seen}"


def test_stop_is_momentary_and_halts_a_move(saxs_station):
    stage, _ = saxs_station
    motor = stage.x
    motor.set(-4.0).wait(timeout=15)
    status = motor.set(4.0)
    motor.stop()  # STOP reaches the IOC after the move started (same circuit, in order)
    status.wait(timeout=15)  # DMOV returns to 1 (ophyd, like a real motor record, says done)
    assert -4.0 <= motor.position < 4.0
    assert int(motor.motor_done_move.get(use_monitor=False)) == 1
    assert int(motor.motor_stop.get(use_monitor=False)) == 0, "STOP must not latch"
    # The next move is not cancelled by a latched STOP.
    motor.set(1.25).wait(timeout=15)
    assert motor.position == pytest.approx(1.25, abs=1e-6)


def test_a_new_setpoint_during_a_move_retargets_it(saxs_station):
    stage, _ = saxs_station
    motor = stage.y
    motor.set(-4.0).wait(timeout=15)
    motor.set(4.0)  # superseded at once by the next move (ophyd fails this status)
    final = motor.set(-2.0)
    final.wait(timeout=15)
    assert motor.position == pytest.approx(-2.0, abs=1e-6)
    assert motor.user_setpoint.get(use_monitor=False) == pytest.approx(-2.0)
    assert int(motor.motor_done_move.get(use_monitor=False)) == 1


def test_motor_positions_carry_precision_and_units(saxs_station):
    """BestEffortCallback formats a motor column with its precision: 0 showed the
    simulated stages' positions as integers (issue 14, item 8)."""
    stage, _ = saxs_station
    for motor in (stage.x, stage.y):
        (readback,) = [v for k, v in motor.describe().items() if k == motor.name]
        assert (readback["precision"], readback["units"]) == (4, "mm")
        assert motor.precision == 4 and motor.egu == "mm"
