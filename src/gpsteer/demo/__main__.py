"""``python -m gpsteer.demo``: see :mod:`gpsteer.demo.cli`.

The guard matters: Dask starts its worker processes with ``spawn``, which imports
this module again in each worker.
"""

from gpsteer.demo.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
