"""Fixtures for the GP engine's tests: small, seeded data sets (see :mod:`gp_data`)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.unit.gp.gp_data import field, sample_inputs


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    """25 noisy samples of :func:`gp_data.field`."""
    rng = np.random.default_rng(1)
    X = sample_inputs(25, rng)
    return X, field(X) + rng.normal(0.0, 2.0, size=25)


@pytest.fixture
def queries() -> np.ndarray:
    """7 query points in the same box."""
    return sample_inputs(7, np.random.default_rng(2))


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Run each test with one torch thread, then restore the setting.

    These matrices are tiny: on a shared 2-core machine a second thread only spins
    (a 25-point likelihood gradient took 70 ms with two threads, 7 ms with one).
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
