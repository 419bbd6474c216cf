"""gpsteer's plans, and two helpers that use this session's Dask cluster.

``RE(autonomous_plan([saxs], saxs_space, target=("saxs_q0", "saxs_q0_variance"),
agent=new_agent(), max_points=100))`` maps the SAXS sample; ``RE(map_sample("saxs"))``
does the same with each station's default target.
"""

from gpsteer import Agent
from gpsteer.callbacks import LiveAgentPlot, plot_map  # noqa: F401
from gpsteer.catalog import read_decisions, replay  # noqa: F401
from gpsteer.devices.stations import STATIONS  # noqa: F401
from gpsteer.plans import autonomous_plan, resume_plan  # noqa: F401
from gpsteer.sim_devices.samples import SAMPLE_BOUNDS


def new_agent(bounds=SAMPLE_BOUNDS, **kwargs):
    """An ``Agent`` over ``bounds`` (default: the sample area) that trains on this
    session's Dask cluster (or inline, with training = "inline" in beamline.toml).

    Other keyword arguments go to ``Agent`` (``acquisition=``, ``seed=``, ...).
    """
    kwargs.setdefault("training", "inline" if dask_client is None else dask_client)  # noqa: F821
    return Agent(bounds=bounds, **kwargs)


def map_sample(station="saxs", *, max_points=100, bounds=SAMPLE_BOUNDS, agent=None, **kwargs):
    """Plan: map an end station's default target over ``bounds`` with ``autonomous_plan``.

    ``agent`` defaults to ``new_agent(bounds)``; other keyword arguments go to
    ``autonomous_plan`` (``batch_size=``, ``max_time=``, ``md=``, ...). Returns the uid.
    """
    st = beamline[station]  # noqa: F821
    agent = new_agent(bounds) if agent is None else agent
    return (
        yield from autonomous_plan(
            [st.detector],
            st.space(bounds),
            target=st.target,
            agent=agent,
            max_points=max_points,
            **kwargs,
        )
    )
