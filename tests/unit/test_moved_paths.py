"""Old import paths users may hold keep working for one release, with a DeprecationWarning."""

from __future__ import annotations

import importlib
import warnings

import pytest

MOVED = [
    ("gpsteer.plans", "open_catalog", "gpsteer.catalog"),
    ("gpsteer.plans", "replay", "gpsteer.catalog"),
    ("gpsteer.plans", "read_decisions", "gpsteer.catalog"),
    ("gpsteer.plans", "AgentFeeder", "gpsteer.callbacks"),
    ("gpsteer.plans", "LiveAgentPlot", "gpsteer.callbacks"),
    ("gpsteer.plans", "wait_for_future", "gpsteer.plan_stubs"),
    ("gpsteer.sim_devices.devices", "end_station", "gpsteer.devices.end_stations"),
    ("gpsteer.sim_devices.devices", "SaxsDetector", "gpsteer.devices.end_stations"),
    ("gpsteer.sim_devices.reductions", "reduce_saxs", "gpsteer.devices.reductions"),
    ("gpsteer.sim_devices.fitting", "fit_peak", "gpsteer.devices.fitting"),
    ("gpsteer.sim_devices.frames", "SCHERRER_K", "gpsteer.devices.instruments"),
    ("gpsteer.gp.multioutput", "region_discovery", "gpsteer.acquisition.spectral"),
]


@pytest.mark.parametrize(("old", "name", "new"), MOVED)
def test_a_moved_name_imports_from_its_old_path_with_a_warning(old, name, new) -> None:
    module = importlib.import_module(old)
    with pytest.warns(DeprecationWarning, match=f"{new}.{name}") as record:
        value = getattr(module, name)
    assert value is getattr(importlib.import_module(new), name)
    assert record[0].filename == __file__  # the warning points at the caller's line


def test_posterior_std_is_the_old_name_of_posterior_variance() -> None:
    import gpsteer.acquisition as acquisition

    with pytest.warns(DeprecationWarning, match="PosteriorVariance"):
        assert acquisition.PosteriorStd is acquisition.PosteriorVariance
    assert acquisition.PosteriorVariance.name == "variance"


def test_the_plans_import_from_their_own_path_without_a_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from gpsteer.plans import autonomous_plan, resume_plan

    assert callable(autonomous_plan) and callable(resume_plan)


def test_a_name_that_never_existed_is_an_attribute_error() -> None:
    import gpsteer.plans

    with pytest.raises(AttributeError, match="no attribute 'open_catlog'"):
        gpsteer.plans.open_catlog  # noqa: B018
