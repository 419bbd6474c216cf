"""Moved to :mod:`gpsteer.devices.end_stations` (real devices are not simulation).

This old path works for one more release, with a DeprecationWarning.
"""

from gpsteer._moved import moved_names, names_of

__getattr__ = moved_names(
    __name__,
    names_of(
        "gpsteer.devices.end_stations",
        [
            "AcquisitionControl",
            "ArpesAnalyser",
            "IrSpectrometer",
            "ReducingDetector",
            "SaxsDetector",
            "XYStage",
            "end_station",
        ],
    ),
)
