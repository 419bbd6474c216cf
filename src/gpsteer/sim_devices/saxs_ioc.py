"""Simulated SAXS end station: an x/y sample stage and an area detector.

Run it with ``python -m gpsteer.sim_devices.saxs_ioc --prefix sim:saxs: --list-pvs``
or ``gpsteer sim saxs --prefix sim:saxs:``; ``--seed`` picks the hidden sample
(:class:`~gpsteer.sim_devices.samples.SaxsSample`), ``--port`` the CA port on
127.0.0.1. Ground truth is not served: rebuild the sample in Python from the seed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from caproto import ChannelType
from caproto.server import PVGroup, SubGroup, pvproperty

from gpsteer.sim_devices.frames import SaxsGeometry
from gpsteer.sim_devices.ioc_common import AcquisitionPVs, configure_stage, ioc_main
from gpsteer.sim_devices.motor import SimMotor
from gpsteer.sim_devices.samples import SaxsSample

__all__ = ["SaxsIOC", "main"]

_SHAPE = SaxsGeometry().shape
_N_PIXELS = _SHAPE[0] * _SHAPE[1]


class SaxsIOC(PVGroup):
    """SAXS end station with a hidden sample.

    PVs (after the prefix ``P``)
    ----------------------------
    Px, Py                       sample stage motors, mm (motor records, see SimMotor)
    Pcam1:Acquire                put 1 to expose; completes when the frame is out
    Pcam1:Acquire_RBV            1 while exposing
    Pcam1:AcquireTime(_RBV)      exposure time, s (Poisson noise falls with it)
    Pcam1:ArrayCounter(_RBV)     frame counter; _RBV is written after the data
    Pcam1:DetectorState_RBV      Idle / Acquire
    Pcam1:SizeX_RBV, SizeY_RBV   image size (columns, rows)
    Pimage1:ArrayData            image, int32 counts, row-major, SizeY x SizeX
    Pimage1:ArraySize0_RBV/1_RBV image size (x, y), areaDetector NDArray style
    Pimage1:ArrayCounter_RBV     counter of the frame in ArrayData
    Pgeom:BeamCenterX/Y          beam centre, pixels
    Pgeom:PixelSize              mm
    Pgeom:Distance               sample-detector distance, mm
    Pgeom:Wavelength             nm
    Pgeom:BeamstopRadius         pixels (masked, zero counts)
    """

    x = SubGroup(SimMotor, prefix="x", doc="Sample x (mm)")
    y = SubGroup(SimMotor, prefix="y", doc="Sample y (mm)")
    cam = SubGroup(AcquisitionPVs, prefix="cam1:", doc="Detector acquisition")

    size_x = pvproperty(value=_SHAPE[1], name="cam1:SizeX_RBV", read_only=True)
    size_y = pvproperty(value=_SHAPE[0], name="cam1:SizeY_RBV", read_only=True)
    array_data = pvproperty(
        value=[0] * _N_PIXELS,
        name="image1:ArrayData",
        dtype=ChannelType.LONG,
        max_length=_N_PIXELS,
        read_only=True,
        doc="Detector image, counts",
    )
    array_size0 = pvproperty(value=_SHAPE[1], name="image1:ArraySize0_RBV", read_only=True)
    array_size1 = pvproperty(value=_SHAPE[0], name="image1:ArraySize1_RBV", read_only=True)
    image_counter = pvproperty(
        value=0, name="image1:ArrayCounter_RBV", dtype=ChannelType.LONG, read_only=True
    )
    beam_center_x = pvproperty(value=0.0, name="geom:BeamCenterX", read_only=True, precision=2)
    beam_center_y = pvproperty(value=0.0, name="geom:BeamCenterY", read_only=True, precision=2)
    pixel_size = pvproperty(value=0.0, name="geom:PixelSize", read_only=True, precision=4)
    distance = pvproperty(value=0.0, name="geom:Distance", read_only=True, precision=1)
    wavelength = pvproperty(value=0.0, name="geom:Wavelength", read_only=True, precision=5)
    beamstop = pvproperty(value=0.0, name="geom:BeamstopRadius", read_only=True, precision=2)

    def __init__(self, *args, seed: int = 0, velocity: float = 5.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sample = SaxsSample.from_seed(seed)
        self.seed = int(seed)
        self._rng = np.random.default_rng([int(seed), 100])
        configure_stage(self.x, self.y, self.sample.domain, velocity)

    @beam_center_x.startup
    async def beam_center_x(self, instance, async_lib) -> None:
        geometry = self.sample.geometry
        await instance.write(geometry.beam_center[0])
        await self.beam_center_y.write(geometry.beam_center[1])
        await self.pixel_size.write(geometry.pixel_size_mm)
        await self.distance.write(geometry.distance_mm)
        await self.wavelength.write(geometry.wavelength_nm)
        await self.beamstop.write(geometry.beamstop_radius_px)

    async def publish_frame(self, exposure_s: float) -> None:
        """Image at the current stage position, written before the counters."""
        frame = self.sample.frame(self.x.position, self.y.position, exposure_s, self._rng)
        ts = time.time()
        await self.array_data.write(frame.ravel(), timestamp=ts)
        await self.image_counter.write(int(self.cam.array_counter.value) + 1, timestamp=ts)


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> None:
    """Command-line entry point (``python -m gpsteer.sim_devices.saxs_ioc``)."""
    ioc_main(
        SaxsIOC,
        description=SaxsIOC.__doc__ or "",
        default_prefix="sim:saxs:",
        argv=argv,
        prog=prog,
    )


if __name__ == "__main__":
    main()
