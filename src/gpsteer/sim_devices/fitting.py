"""Moved to :mod:`gpsteer.devices.fitting` (real devices are not simulation).

This old path works for one more release, with a DeprecationWarning.
"""

from gpsteer._moved import moved_names, names_of

__getattr__ = moved_names(
    __name__,
    names_of(
        "gpsteer.devices.fitting",
        [
            "PeakFit",
            "Shape",
            "fit_peak",
            "gaussian",
            "weighted_lstsq",
        ],
    ),
)
