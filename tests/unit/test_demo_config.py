"""The beamline session's configuration (gpsteer.session.config) and station table (stations).

Why: the profile reads this at start-up; every mistake must stop it with a message
naming what to fix, and the shipped beamline.toml must say what the docs say.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gpsteer.devices.stations import STATIONS, station_info
from gpsteer.errors import ConfigurationError, UnknownNameError
from gpsteer.session.config import BeamlineConfig, StationConfig, load_config, parse_stations

PROFILE_TOML = Path(__file__).resolve().parents[2] / "profile_collection" / "beamline.toml"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "beamline.toml"
    path.write_text(text)
    return path


def test_defaults_are_the_three_simulated_stations_on_dask() -> None:
    config = load_config(None, environ={})
    assert [s.kind for s in config.stations] == ["saxs", "arpes", "ir"]
    assert config.simulated and config.training == "dask"
    assert (config.seed, config.velocity) == (0, 25.0)
    assert config.catalog_directory is None and config.catalog_uri is None


def test_the_shipped_profile_file_gives_the_defaults() -> None:
    config = load_config(PROFILE_TOML, environ={})
    assert config.source == str(PROFILE_TOML)
    assert config.stations == BeamlineConfig().stations
    assert config.training == "dask" and config.simulated


def test_a_missing_default_file_is_fine_but_a_named_one_is_not(tmp_path: Path) -> None:
    assert load_config(tmp_path / "absent.toml", environ={}).source is None
    with pytest.raises(ConfigurationError, match="cannot read the beamline configuration"):
        load_config(None, environ={"GPSTEER_BEAMLINE_CONFIG": str(tmp_path / "absent.toml")})


def test_a_file_describes_real_stations_training_and_catalog(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
[stations.saxs]
simulated = false
prefix = "XF:12ID2-ES{SAXS}:"
[training]
backend = "tcp://10.0.0.5:8786"
[catalog]
uri = "http://127.0.0.1:8000"
""",
    )
    config = load_config(path, environ={})
    assert config.stations == (StationConfig("saxs", simulated=False, prefix="XF:12ID2-ES{SAXS}:"),)
    assert not config.simulated
    assert config.training == "tcp://10.0.0.5:8786"
    assert config.catalog_uri == "http://127.0.0.1:8000"


def test_environment_variables_win_over_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "[simulation]\nseed = 3\nvelocity = 5.0\n")
    environ = {
        "GPSTEER_STATIONS": "ir, saxs",
        "GPSTEER_TRAINING": "inline",
        "GPSTEER_SIM_SEED": "7",
        "GPSTEER_SIM_VELOCITY": "12.5",
        "GPSTEER_CATALOG_URI": "http://127.0.0.1:8000",
        "GPSTEER_CATALOG_API_KEY": "secret",
    }
    config = load_config(path, environ=environ)
    assert [s.kind for s in config.stations] == ["ir", "saxs"]
    assert (config.training, config.seed, config.velocity) == ("inline", 7, 12.5)
    assert config.catalog_uri == "http://127.0.0.1:8000" and config.catalog_api_key == "secret"
    assert "secret" not in repr(config)


def test_station_entries_name_kind_or_kind_and_prefix() -> None:
    assert parse_stations("saxs") == (StationConfig("saxs"),)
    (real,) = parse_stations("arpes=XF:21ID-ES{ARPES}:")
    assert not real.simulated and real.prefix == "XF:21ID-ES{ARPES}:"


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("[stations.xrd]\n", ConfigurationError, r"unknown key\(s\) \['xrd'\] in \[stations\]"),
        ("[stations.saxs]\nspeed = 3\n", ConfigurationError, r"\['speed'\] in \[stations.saxs\]"),
        ("[simulation]\nsed = 1\n", ConfigurationError, r"\['sed'\] in \[simulation\]"),
        ("[stations.saxs]\nsimulated = false\n", ConfigurationError, "needs its PV prefix"),
        (
            '[stations.saxs]\nsimulated = false\nprefix = "A:"\n[stations.ir]\n',
            ConfigurationError,
            "mixing simulated and real",
        ),
        ('[training]\nbackend = "slurm"\n', ConfigurationError, "training must be 'dask'"),
        ("[simulation]\nvelocity = 0\n", ConfigurationError, "velocity must be > 0"),
        ('[catalog]\ndirectory = "a"\nuri = "b"\n', ConfigurationError, "not both"),
        ("[stations\n", ConfigurationError, "is not valid TOML"),
    ],
)
def test_mistakes_in_the_file_are_named(
    tmp_path: Path, text: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        load_config(_write(tmp_path, text), environ={})


@pytest.mark.parametrize(
    ("environ", "error", "message"),
    [
        ({"GPSTEER_STATIONS": "xrd"}, UnknownNameError, "unknown end station 'xrd'"),
        ({"GPSTEER_STATIONS": "saxs="}, ConfigurationError, "has an empty prefix"),
        ({"GPSTEER_STATIONS": " , "}, ConfigurationError, "GPSTEER_STATIONS is empty"),
        ({"GPSTEER_STATIONS": "saxs,saxs"}, ConfigurationError, "listed twice"),
        ({"GPSTEER_SIM_SEED": "one"}, ConfigurationError, "GPSTEER_SIM_SEED='one' is not an"),
        ({"GPSTEER_SIM_VELOCITY": "fast"}, ConfigurationError, "is not a number"),
    ],
)
def test_mistakes_in_the_environment_are_named(
    environ: dict[str, str], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        load_config(None, environ=environ)


def test_a_real_station_takes_no_port() -> None:
    with pytest.raises(ConfigurationError, match="port is for simulated stations only"):
        StationConfig("saxs", simulated=False, prefix="A:", port=5064)


def test_each_station_target_is_a_detector_field_and_a_ground_truth_field() -> None:
    from gpsteer.devices import end_stations as devices
    from gpsteer.sim_devices.samples import make_sample

    classes = {
        "saxs": devices.SaxsDetector,
        "arpes": devices.ArpesAnalyser,
        "ir": devices.IrSpectrometer,
    }
    for kind, info in STATIONS.items():
        components = set(classes[kind].component_names)
        for field in info.target:
            assert field.startswith(f"{kind}_") and field[len(kind) + 1 :] in components
        truth = make_sample(kind, 0).ground_truth(np.zeros(3), np.zeros(3))
        assert np.asarray(truth[info.truth_field]).shape == (3,)
    with pytest.raises(UnknownNameError, match="known end stations"):
        station_info("xrd")
