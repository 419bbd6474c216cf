"""Read the session's configuration; keep Channel Access on loopback for a simulation.

This runs first because the loopback environment must be set before ophyd or
caproto's client is imported (30-devices.py). Configuration: beamline.toml in
this profile directory, overridden by GPSTEER_* environment variables (see
gpsteer.session.config).
"""

from pathlib import Path

from gpsteer.session.config import load_config

PROFILE_DIR = Path(get_ipython().profile_dir.location)  # noqa: F821  (IPython's builtin)
beamline_config = load_config(PROFILE_DIR / "beamline.toml")

if beamline_config.simulated:
    from gpsteer.sim_devices.loopback import apply_loopback_env

    apply_loopback_env()
