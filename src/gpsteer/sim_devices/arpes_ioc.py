"""Simulated ARPES end station: an x/y sample stage and a hemispherical analyser.

Run it with ``python -m gpsteer.sim_devices.arpes_ioc --prefix sim:arpes: --list-pvs``
or ``gpsteer sim arpes``; ``--seed`` picks the hidden sample
(:class:`~gpsteer.sim_devices.samples.ArpesSample`), ``--port`` the CA port on
127.0.0.1. Ground truth is not served: rebuild the sample in Python from the seed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from caproto import ChannelType
from caproto.server import PVGroup, SubGroup, pvproperty

from gpsteer.sim_devices.frames import ArpesAxes
from gpsteer.sim_devices.ioc_common import AcquisitionPVs, configure_stage, ioc_main
from gpsteer.sim_devices.motor import SimMotor
from gpsteer.sim_devices.samples import ArpesSample

__all__ = ["ArpesIOC", "main"]

_AXES = ArpesAxes()
_N_PIXELS = _AXES.n_energy * _AXES.n_angle


class ArpesIOC(PVGroup):
    """ARPES end station with a hidden flake-on-substrate sample.

    PVs (after the prefix ``P``)
    ----------------------------
    Px, Py                              sample stage motors, mm (motor records)
    Panalyser:Acquire                   put 1 to measure; completes when the image is out
    Panalyser:Acquire_RBV               1 while measuring
    Panalyser:AcquireTime(_RBV)         dwell time, s (Poisson noise falls with it)
    Panalyser:ArrayCounter(_RBV)        image counter; _RBV is written after the data
    Panalyser:DetectorState_RBV         Idle / Acquire
    Panalyser:Image                     counts, int32, row-major: NumEnergy rows x NumAngle
    Panalyser:EnergyAxis                energy of each row, eV relative to E_F
    Panalyser:AngleAxis                 emission angle of each column, deg
    Panalyser:NumEnergy_RBV             number of energies (rows)
    Panalyser:NumAngle_RBV              number of angles (columns)
    Panalyser:EdgeWidth_RBV             effective Fermi-edge width, eV (temperature + resolution)
    """

    x = SubGroup(SimMotor, prefix="x", doc="Sample x (mm)")
    y = SubGroup(SimMotor, prefix="y", doc="Sample y (mm)")
    analyser = SubGroup(AcquisitionPVs, prefix="analyser:", doc="Analyser acquisition")

    image = pvproperty(
        value=[0] * _N_PIXELS,
        name="analyser:Image",
        dtype=ChannelType.LONG,
        max_length=_N_PIXELS,
        read_only=True,
        doc="Energy x angle image, counts",
    )
    energy_axis = pvproperty(
        value=_AXES.energy().tolist(),
        name="analyser:EnergyAxis",
        max_length=_AXES.n_energy,
        read_only=True,
        precision=4,
    )
    angle_axis = pvproperty(
        value=_AXES.angle().tolist(),
        name="analyser:AngleAxis",
        max_length=_AXES.n_angle,
        read_only=True,
        precision=3,
    )
    num_energy = pvproperty(value=_AXES.n_energy, name="analyser:NumEnergy_RBV", read_only=True)
    num_angle = pvproperty(value=_AXES.n_angle, name="analyser:NumAngle_RBV", read_only=True)
    edge_width = pvproperty(
        value=_AXES.edge_width_ev, name="analyser:EdgeWidth_RBV", read_only=True, precision=4
    )

    def __init__(self, *args, seed: int = 0, velocity: float = 5.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sample = ArpesSample.from_seed(seed)
        self.seed = int(seed)
        self._rng = np.random.default_rng([int(seed), 200])
        configure_stage(self.x, self.y, self.sample.domain, velocity)

    async def publish_frame(self, exposure_s: float) -> None:
        """Image at the current stage position, written before the counter."""
        frame = self.sample.frame(self.x.position, self.y.position, exposure_s, self._rng)
        await self.image.write(frame.ravel(), timestamp=time.time())


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> None:
    """Command-line entry point (``python -m gpsteer.sim_devices.arpes_ioc``)."""
    ioc_main(
        ArpesIOC,
        description=ArpesIOC.__doc__ or "",
        default_prefix="sim:arpes:",
        argv=argv,
        prog=prog,
    )


if __name__ == "__main__":
    main()
