"""Moved to :mod:`gpsteer.devices.reductions` (real devices are not simulation).

This old path works for one more release, with a DeprecationWarning.
"""

from gpsteer._moved import moved_names, names_of

__getattr__ = moved_names(
    __name__,
    names_of(
        "gpsteer.devices.reductions",
        [
            "ArpesReduction",
            "IrReduction",
            "PeakFit",
            "SaxsReduction",
            "fit_peak",
            "gaussian",
            "reduce_arpes",
            "reduce_ir",
            "reduce_saxs",
        ],
    ),
)
