"""The simulated beamline session: ``make demo``, and what the beamline profile uses.

``python -m gpsteer.demo --out DIR`` maps the hidden sample of a simulated end
station with ``RE(autonomous_plan(...))``, end to end: IOC, ophyd devices, Dask,
catalog, report (:mod:`~gpsteer.demo.session`). ``--offline`` runs the GP engine
alone (:mod:`~gpsteer.demo.offline`).

The pieces, reused by ``profile_collection/``:

* :mod:`~gpsteer.demo.stations`: each end station's default target and the
  ground-truth field it measures;
* :mod:`~gpsteer.demo.config`: the session's configuration (TOML file and
  ``GPSTEER_*`` environment variables);
* :mod:`~gpsteer.demo.beamline`: end stations started (or found) and connected,
  and stopped at the end;
* :mod:`~gpsteer.demo.report`: grading a map against the hidden sample, the
  report figure.

Importing this package imports neither ophyd nor torch.
"""

from gpsteer.demo.cli import main

__all__ = ["main"]
