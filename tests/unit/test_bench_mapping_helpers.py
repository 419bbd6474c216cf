"""The mapping benchmarks' pure helpers: held-out fields, the scoring grid, the raster
count, the --agent options, the result store.

A benchmark that mis-scores, or mixes results of two configurations, decides issue 13
wrongly; these are the parts of it that can be checked exactly.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from benchmarks import baselines, comparison, heldout
from benchmarks.fields import FIELDS, cell_centres, dense_grid, nrmse
from benchmarks.report import mean_and_spread

from gpsteer.errors import ConfigurationError, InputError, UnknownNameError

RASTER_SIDES = (7, 10, 14, 20, 50, 100)


# ----------------------------------------------------------------------------- held-out fields


@pytest.mark.parametrize("family", sorted(heldout.FAMILIES))
def test_heldout_field_is_deterministic_per_seed_and_differs_between_seeds(family):
    X = cell_centres(40)
    a, b = heldout.make_field(family, 3), heldout.make_field(family, 3)
    np.testing.assert_array_equal(a(X), b(X))
    assert a.name == f"{family}#3"
    other = heldout.make_field(family, 4)(X)
    assert np.max(np.abs(other - a(X))) > 0.05  # a new instance, not the same one


@pytest.mark.parametrize("family", sorted(heldout.FAMILIES))
def test_heldout_field_spans_unit_range_with_two_percent_noise(family):
    f = heldout.make_field(family, 0)
    values = f(cell_centres(200))  # the reference grid the scaling used
    assert values.min() == pytest.approx(0.0, abs=1e-9)
    assert values.max() == pytest.approx(1.0, abs=1e-9)
    assert f.noise_std == heldout.NOISE_STD == 0.02


def test_heldout_instances_do_not_depend_on_the_registry_order():
    """Instances are keyed by the family's name: adding a family changes no other."""
    before = heldout.make_field("disc", 1)(cell_centres(30))
    heldout.FAMILIES["zz_extra"] = heldout.FAMILIES["smooth"]
    try:
        after = heldout.make_field("disc", 1)(cell_centres(30))
    finally:
        del heldout.FAMILIES["zz_extra"]
    np.testing.assert_array_equal(before, after)


def test_unknown_family_lists_the_known_ones():
    with pytest.raises(UnknownNameError, match="grains"):
        heldout.make_field("crystal", 0)


def test_grains_are_piecewise_with_sharp_boundaries():
    values = heldout.make_field("grains", 2)(cell_centres(200)).reshape(200, 200)
    jumps = np.abs(np.diff(values, axis=1))
    # Gentle gradients inside grains (<= 0.15 per unit before scaling), jumps at edges.
    assert np.median(jumps) < 0.01
    assert jumps.max() > 0.1


# ----------------------------------------------------------------------------- scoring grid


def test_cell_centres_layout():
    g = cell_centres(4)
    assert g.shape == (16, 2)
    np.testing.assert_allclose(g[:4, 0], [0.125, 0.375, 0.625, 0.875])
    np.testing.assert_allclose(g[:4, 1], 0.125)
    with pytest.raises(InputError):
        cell_centres(0)


@pytest.mark.parametrize("side", RASTER_SIDES)
def test_scoring_grid_holds_no_raster_node(side):
    """No scoring point on a node of any raster compared (side - 1 odd, or 7 x 7)."""
    nodes = dense_grid(side)
    grid = cell_centres(250)
    t = (np.arange(250) + 0.5) / 250
    gaps = np.abs(t[:, None] - np.linspace(0, 1, side)[None]).min()
    assert gaps > 1e-6
    assert grid.shape == (62500, 2) and len(nodes) == side**2


def test_raster_error_is_scored_between_its_nodes():
    """Why the offset grid: on its own nodes a noise-free raster looks perfect."""
    f = FIELDS["sharp_boundary"]
    nodes = dense_grid(10)
    raster = baselines.interpolator(nodes, f(nodes))
    on_nodes = nrmse(f(nodes), raster(nodes))
    between = cell_centres(250)
    assert on_nodes == pytest.approx(0.0, abs=1e-12)
    assert nrmse(f(between), raster(between)) > 0.05


def test_a_linear_field_is_reconstructed_exactly_on_the_finer_grid():
    nodes = dense_grid(10)

    def plane(X):
        return 0.3 + 2.0 * X[:, 0] - X[:, 1]

    raster = baselines.interpolator(nodes, plane(nodes))
    grid = cell_centres(250)
    assert nrmse(plane(grid), raster(grid)) == pytest.approx(0.0, abs=1e-12)


# ----------------------------------------------------------------------------- raster count


@pytest.mark.parametrize(("n", "side"), [(50, 7), (100, 10), (200, 14), (400, 20), (1, 2)])
def test_raster_side_is_the_equal_count_square(n, side):
    assert baselines.raster_side(n) == side


def test_raster_map_measures_side_squared_points():
    calls = []

    class Counting:
        noise_std = 0.0

        def measure(self, X, rng):
            calls.append(len(X))
            return X[:, 0]

    baselines.raster_map(Counting(), 200, np.random.default_rng(0))
    assert calls == [196]
    with pytest.raises(ValueError, match="at least 1"):
        baselines.raster_side(0)


# ----------------------------------------------------------------------------- options, store


def test_agent_options_are_json_with_bare_strings_allowed():
    options = comparison.parse_agent_options(
        ['kernel="matern32"', "acquisition=boundary", "train_schedule=null", 'optimizer={"a": 1}']
    )
    assert options == {
        "kernel": "matern32",
        "acquisition": "boundary",
        "train_schedule": None,
        "optimizer": {"a": 1},
    }


@pytest.mark.parametrize("bad", ["kernel", "=3", "no such=1", "seed=3", "bounds=[[0, 1]]"])
def test_agent_options_reject_what_the_benchmark_sets_or_cannot_read(bad):
    with pytest.raises(InputError):
        comparison.parse_agent_options([bad])


def test_store_resumes_and_refuses_a_label_measured_under_another_configuration(tmp_path):
    path = tmp_path / "store.json"
    store = comparison.Store(path)
    store.check_label("gpsteer", {}, {"kernel": "matern52"})
    store.put("smooth", "gpsteer", 0, comparison.Curve({100: 0.1, 200: 0.05}))
    store.put("smooth", "raster", 0, comparison.Curve({}, error="boom"))

    again = comparison.Store(path)  # a new process reads what the first one wrote
    assert again.get("smooth", "gpsteer", 0, [100, 200]).nrmse == {100: 0.1, 200: 0.05}
    assert again.get("smooth", "gpsteer", 0, [100, 400]) is None  # a budget is missing
    assert again.get("smooth", "raster", 0, [100]) is None  # failed runs are measured again
    again.check_label("gpsteer", {}, {"kernel": "matern52"})  # same configuration: fine
    with pytest.raises(ConfigurationError, match="--label"):
        again.check_label("gpsteer", {"kernel": "matern32"}, {"kernel": "matern32"})
    assert comparison.seed_values(again, "smooth", "gpsteer", [0, 1], 200)[0] == 0.05
    assert math.isnan(comparison.seed_values(again, "smooth", "gpsteer", [0, 1], 200)[1])

    again.put("smooth", "random", 0, comparison.Curve({100: 0.2}))
    again.forget("gpsteer")  # --remeasure: this label only, the baselines stay
    again.check_label("gpsteer", {"kernel": "matern32"}, {"kernel": "matern32"})
    assert again.get("smooth", "gpsteer", 0, [100]) is None
    assert again.get("smooth", "random", 0, [100]).nrmse == {100: 0.2}


def test_two_processes_writing_one_store_keep_each_others_results(tmp_path):
    path = tmp_path / "store.json"
    first, second = comparison.Store(path), comparison.Store(path)  # both read an empty file
    first.put("smooth", "raster", 0, comparison.Curve({100: 0.1}))
    second.put("hot_spots", "raster", 0, comparison.Curve({100: 0.2}))
    first.put("smooth", "raster", 1, comparison.Curve({100: 0.3}))
    merged = comparison.Store(path)
    assert merged.get("smooth", "raster", 0, [100]).nrmse == {100: 0.1}
    assert merged.get("hot_spots", "raster", 0, [100]).nrmse == {100: 0.2}
    assert merged.get("smooth", "raster", 1, [100]).nrmse == {100: 0.3}


def test_mean_and_spread():
    assert mean_and_spread([0.1, 0.2, 0.3]) == "0.2000 ±0.1000"
    assert mean_and_spread([0.25]) == "0.2500"
    assert mean_and_spread([0.1, math.nan]) == "failed"


# ----------------------------------------------------------------------------- Learner2D


def test_learner2d_grows_to_each_budget_and_maps_the_square():
    pytest.importorskip("adaptive", reason="python-adaptive (the bench extra) is not installed")
    f = FIELDS["sharp_boundary"]
    run = baselines.Learner2DRun(f, np.random.default_rng(0))
    first = run.advance_to(30)
    assert run.n == 30
    second = run.advance_to(80)
    assert run.n == 80
    grid = cell_centres(50)
    assert np.all(np.isfinite(first(grid))) and np.all(np.isfinite(second(grid)))
    assert nrmse(f(grid), second(grid)) < nrmse(f(grid), first(grid))


# ----------------------------------------------------------------------------- verdicts


def test_issue13_verdicts_apply_each_check_where_it_belongs():
    from benchmarks.bench_mapping import verdicts

    # <= raster at 100/200/400; <= 0.5x raster only at 400 on the two edge fields;
    # <= Learner2D only at 200/400.
    assert verdicts("smooth", 50, 0.1, 0.2, 0.3) == [None, None, None]
    assert verdicts("smooth", 100, 0.1, 0.2, 0.05) == [True, None, None]
    assert verdicts("smooth", 200, 0.3, 0.2, 0.4) == [False, None, True]
    assert verdicts("hot_spots", 400, 0.09, 0.2, 0.1) == [True, True, True]
    assert verdicts("sharp_boundary", 400, 0.11, 0.2, 0.1) == [True, False, False]
    assert verdicts("smooth", 400, 0.11, math.nan, 0.1) == [None, None, False]
    assert verdicts("smooth", 400, math.nan, 0.2, 0.1) == [None, None, None]


def test_beamline_checkpoints_include_each_target_count():
    from benchmarks.bench_beamline_mapping import checkpoints

    plain = checkpoints(2500, 0.2)
    assert plain[0] == 62 and plain[1] - plain[0] == 62 and plain[-1] <= 500
    with_target = checkpoints(2500, 0.2, targets=(0.12, 0.05, 0.5))
    assert 300 in with_target and 125 in with_target  # judged at their own counts
    assert 1250 not in with_target  # beyond the budget: left out
    assert set(plain) <= set(with_target) and with_target == sorted(with_target)
