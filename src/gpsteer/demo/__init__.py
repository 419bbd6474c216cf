"""``make demo``: an autonomous map of a simulated end station, end to end.

``python -m gpsteer.demo --out DIR`` maps the hidden sample of a simulated end
station with ``RE(autonomous_plan(...))``: IOC, ophyd devices, Dask, catalog,
report (:mod:`~gpsteer.demo.autonomous_map`, with the grading and figure of
:mod:`~gpsteer.demo.report`). ``--offline`` runs the GP engine alone
(:mod:`~gpsteer.demo.offline`).

The session it builds on (configuration, end stations started and connected) is
:mod:`gpsteer.session`, which the beamline profile uses too. Importing this
package imports neither ophyd nor torch.
"""

from gpsteer.demo.cli import main

__all__ = ["main"]
