"""Thread limits for decision-time work (see :mod:`gpsteer.gp.threads`)."""

from gpsteer.gp.threads import limit_threads as compute_threads

__all__ = ["compute_threads"]
