"""Simulated IR spectro-microscopy end station: an x/y stage and a spectrometer.

Run it with ``python -m gpsteer.sim_devices.ir_ioc --prefix sim:ir: --list-pvs``
or ``gpsteer sim ir``; ``--seed`` picks the hidden sample
(:class:`~gpsteer.sim_devices.samples.IrSample`), ``--port`` the CA port on
127.0.0.1. Ground truth is not served: rebuild the sample in Python from the seed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from caproto.server import PVGroup, SubGroup, pvproperty

from gpsteer.sim_devices.frames import IrAxes
from gpsteer.sim_devices.ioc_common import AcquisitionPVs, configure_stage, ioc_main
from gpsteer.sim_devices.motor import SimMotor
from gpsteer.sim_devices.samples import IrSample

__all__ = ["IrIOC", "main"]

_AXES = IrAxes()


class IrIOC(PVGroup):
    """IR end station with a hidden two-phase sample with inclusions.

    PVs (after the prefix ``P``)
    ----------------------------
    Px, Py                       sample stage motors, mm (motor records)
    Pspec:Acquire                put 1 to integrate; completes when the spectrum is out
    Pspec:Acquire_RBV            1 while integrating
    Pspec:AcquireTime(_RBV)      integration time, s (noise falls as 1/sqrt)
    Pspec:ArrayCounter(_RBV)     spectrum counter; _RBV is written after the data
    Pspec:DetectorState_RBV      Idle / Acquire
    Pspec:Spectrum               absorbance, float64, one value per wavenumber
    Pspec:Wavenumber             wavenumber axis, 1/cm
    Pspec:NumPoints_RBV          number of spectral points
    """

    x = SubGroup(SimMotor, prefix="x", doc="Sample x (mm)")
    y = SubGroup(SimMotor, prefix="y", doc="Sample y (mm)")
    spec = SubGroup(AcquisitionPVs, prefix="spec:", doc="Spectrometer acquisition")

    spectrum = pvproperty(
        value=[0.0] * _AXES.n_points,
        name="spec:Spectrum",
        max_length=_AXES.n_points,
        read_only=True,
        precision=5,
        doc="Absorbance",
    )
    wavenumber = pvproperty(
        value=_AXES.wavenumber().tolist(),
        name="spec:Wavenumber",
        max_length=_AXES.n_points,
        read_only=True,
        precision=2,
    )
    num_points = pvproperty(value=_AXES.n_points, name="spec:NumPoints_RBV", read_only=True)

    def __init__(self, *args, seed: int = 0, velocity: float = 5.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sample = IrSample.from_seed(seed)
        self.seed = int(seed)
        self._rng = np.random.default_rng([int(seed), 300])
        configure_stage(self.x, self.y, self.sample.domain, velocity)

    async def publish_frame(self, exposure_s: float) -> None:
        """Spectrum at the current stage position, written before the counter."""
        spectrum = self.sample.frame(self.x.position, self.y.position, exposure_s, self._rng)
        await self.spectrum.write(spectrum, timestamp=time.time())


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> None:
    """Command-line entry point (``python -m gpsteer.sim_devices.ir_ioc``)."""
    ioc_main(
        IrIOC,
        description=IrIOC.__doc__ or "",
        default_prefix="sim:ir:",
        argv=argv,
        prog=prog,
    )


if __name__ == "__main__":
    main()
