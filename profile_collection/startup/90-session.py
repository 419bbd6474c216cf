"""Freeze start-up objects for the garbage collector, and say what this session holds."""

import gc

# A full collection stops every thread (200 ms with torch, Dask and bluesky loaded);
# objects alive now are never scanned again (see docs/reference/autonomous_plan.md).
gc.collect()
gc.freeze()

print("gpsteer beamline session")
for _line in beamline.describe().splitlines():  # noqa: F821
    print("  station  " + _line)
for _kind, _why in beamline.failed.items():  # noqa: F821
    print(f"  station  {_kind:6s} NOT CONNECTED: {_why}")
print(f"  catalog  {catalog.directory or catalog.uri}")  # noqa: F821
if catalog.served_at:  # noqa: F821
    print(f"  served   {catalog.served_at} (other processes: open_catalog(directory))")  # noqa: F821
print(f"  dask     {trainer.address if trainer is not None else 'none: training inline'}")  # noqa: F821
print('  try      RE(map_sample("saxs", max_points=50))')
for _name in ("_line", "_kind", "_why"):
    globals().pop(_name, None)
