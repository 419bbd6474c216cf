"""Thread limits for model computations: torch's intra-op pool and the BLAS behind scipy.

Measured on a shared two-core machine: an N = 1000 likelihood gradient was 5x faster
on one torch thread than on two, and one small L-BFGS-B run took 7.9 ms with scipy's
OpenBLAS on two threads against 1.4 ms on one, because oversubscribed threads spin.
Parallelism comes instead from running optimizer starts on several Dask workers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch

__all__ = ["limit_threads"]

_controller: Any = None


def _blas_controller() -> Any:
    global _controller
    if _controller is None:
        import scipy.optimize  # noqa: F401  (loads scipy's BLAS before it is inspected)
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller


@contextlib.contextmanager
def limit_threads(n: int | None) -> Iterator[None]:
    """Run a block with at most ``n`` torch and BLAS threads, then restore (``None``: as is)."""
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with _blas_controller().limit(limits=n, user_api="blas"):
            yield
    finally:
        torch.set_num_threads(before)
