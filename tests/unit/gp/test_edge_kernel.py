"""The edge-aligned kernel and its structure field: contract, an independent numpy
reference of the Paciorek covariance, positive definiteness, the stationary limit,
and the field built from a model (refresh and exact restore)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gpsteer.errors import ConfigurationError, ShapeError
from gpsteer.gp import GaussianProcess
from gpsteer.gp.kernels import EdgeAligned, Matern
from gpsteer.gp.structure import (
    StructureField,
    StructureSource,
    field_kernels,
    refresh_structure,
    restore_structure,
)
from tests.unit.gp.contracts import KernelContract, sample_points


def ramp_field(n: int = 12) -> StructureField:
    """A field that is strong across y near y = 0.5 and weak elsewhere (a horizontal edge)."""

    def gradient(U: torch.Tensor) -> torch.Tensor:
        g = torch.zeros_like(U)
        g[:, 1] = torch.exp(-0.5 * ((U[:, 1] - 0.5) / 0.1) ** 2)
        g[:, 0] = 0.3 * U[:, 0]
        return g

    return StructureField.from_gradient(gradient, 2, resolution=n, smoothing=0.0)


def numpy_paciorek(
    x1: np.ndarray, x2: np.ndarray, ls: np.ndarray, sharpening: float, field: StructureField
) -> np.ndarray:
    """Written from the formula, one pair at a time, in the input coordinates."""

    def sigma(x: np.ndarray) -> np.ndarray:
        S = field(torch.as_tensor(x[None])).numpy()[0]
        g = np.exp(np.mean(np.log(ls)))
        M = np.diag(1.0 / ls**2) + sharpening * S / g**2  # metric in x coordinates
        return np.linalg.inv(M)

    out = np.empty((len(x1), len(x2)))
    for i, a in enumerate(x1):
        for j, b in enumerate(x2):
            Si, Sj = sigma(a), sigma(b)
            Sm = 0.5 * (Si + Sj)
            q = (a - b) @ np.linalg.solve(Sm, a - b)
            r = math.sqrt(max(q, 0.0))
            pref = (
                np.linalg.det(Si) ** 0.25 * np.linalg.det(Sj) ** 0.25 / math.sqrt(np.linalg.det(Sm))
            )
            out[i, j] = pref * (1 + math.sqrt(5) * r + 5 * r * r / 3) * math.exp(-math.sqrt(5) * r)
    return out


class TestEdgeAlignedContract(KernelContract):
    names = ("lengthscale", "sharpening")

    def make_kernel(self):
        return EdgeAligned(lengthscale=[0.3, 0.2], sharpening=5.0, field=ramp_field(), ard=True)

    def reference(self, k, x1, x2):
        ls = self._v(k, "lengthscale")
        return numpy_paciorek(x1, x2, ls, float(self._v(k, "sharpening")[0]), k.field)


def test_matches_an_independent_computation():
    k = EdgeAligned(lengthscale=[0.25, 0.4], sharpening=12.0, field=ramp_field(16), ard=True)
    x1, x2 = sample_points(9, 2, 10), sample_points(7, 2, 11)
    expected = numpy_paciorek(x1.numpy(), x2.numpy(), np.array([0.25, 0.4]), 12.0, k.field)
    np.testing.assert_allclose(k(x1, x2).detach().numpy(), expected, rtol=1e-9, atol=1e-12)


def test_positive_definite_with_a_strong_field():
    k = EdgeAligned(lengthscale=0.3, sharpening=500.0, field=ramp_field(20))
    x = sample_points(150, 2, 12)
    K = k(x).detach()
    assert torch.linalg.eigvalsh(K).min() > -1e-9
    assert torch.allclose(K.diagonal(), torch.ones(150, dtype=K.dtype))
    assert K.max() <= 1.0 + 1e-12  # a correlation never exceeds one


def test_without_field_or_sharpening_it_is_the_stationary_matern():
    x1, x2 = sample_points(8, 2, 13), sample_points(5, 2, 14)
    stationary = Matern(nu=2.5, lengthscale=[0.3, 0.2])
    no_field = EdgeAligned(lengthscale=[0.3, 0.2], ard=True)
    weak = EdgeAligned(lengthscale=[0.3, 0.2], sharpening=1e-4, field=ramp_field(), ard=True)
    expected = stationary(x1, x2)
    torch.testing.assert_close(no_field(x1, x2), expected, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(weak(x1, x2), expected, rtol=1e-3, atol=1e-4)


def test_correlation_is_shorter_across_the_edge_than_along_it():
    k = EdgeAligned(lengthscale=0.3, sharpening=50.0, field=ramp_field(24))
    centre = torch.tensor([[0.5, 0.5]], dtype=torch.float64)
    across = torch.tensor([[0.5, 0.56]], dtype=torch.float64)
    along = torch.tensor([[0.56, 0.5]], dtype=torch.float64)
    assert float(k(centre, across)) < 0.5 * float(k(centre, along))
    assert float(k.edge_strength(centre)[0]) > 5.0
    far = torch.tensor([[0.05, 0.05]], dtype=torch.float64)
    assert float(k.edge_strength(far)[0]) < 1.5


def test_field_interpolates_its_nodes_and_is_differentiable():
    field = ramp_field(11)
    nodes = torch.tensor([[0.0, 0.5], [0.3, 0.2], [1.0, 1.0]], dtype=torch.float64)
    expected = torch.stack([field.tensors[0, 5], field.tensors[3, 2], field.tensors[10, 10]])
    torch.testing.assert_close(field(nodes), expected)
    U = torch.tensor([[0.33, 0.47]], dtype=torch.float64, requires_grad=True)
    field(U)[0, 1, 1].backward()
    assert U.grad is not None and torch.isfinite(U.grad).all()
    assert abs(float(field.tensors.diagonal(dim1=-2, dim2=-1).sum(-1).mean()) - 1.0) < 1e-12


def test_field_rejects_bad_shapes_and_dimensions():
    with pytest.raises(ShapeError):
        StructureField(torch.zeros(5, 5, 3, 3))
    with pytest.raises(ConfigurationError, match="stationary kernel"):
        StructureField.from_gradient(lambda U: U, dim=4)
    with pytest.raises(ShapeError):
        ramp_field()(torch.zeros(3, 3, dtype=torch.float64))


def _edge_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 10, (n, 2))
    y = np.where(X[:, 1] > 5 + 0.8 * np.sin(X[:, 0] / 2), 1.0, 0.0) + 0.01 * rng.normal(size=n)
    return X, y


def test_refresh_gives_the_edge_and_restore_rebuilds_it_exactly():
    X, y = _edge_data(120, 0)
    gp = GaussianProcess(kernel="edge", input_bounds=[(0, 10), (0, 10)])
    gp.set_data(X, y, np.full(120, 1e-4))
    gp.fit(seed=0)
    source = refresh_structure(gp)
    assert isinstance(source, StructureSource) and source.n_points == 120
    (kernel,) = field_kernels(gp.kernel)
    # the field is strong on the edge and weak far from it
    on_edge = torch.tensor([[0.5, 0.5 + 0.08 * math.sin(2.5)]], dtype=torch.float64)
    off_edge = torch.tensor([[0.5, 0.05]], dtype=torch.float64)
    trace = lambda U: float(kernel.field(U).diagonal(dim1=-2, dim2=-1).sum())  # noqa: E731
    assert trace(on_edge) > 5 * trace(off_edge)
    gp.fit(seed=1)
    X2, y2 = _edge_data(20, 1)
    gp.append(X2, y2, np.full(20, 1e-4))
    query = np.random.default_rng(2).uniform(0, 10, (50, 2))
    expected = gp.predict(query)

    rebuilt = GaussianProcess(kernel="edge", input_bounds=[(0, 10), (0, 10)])
    rebuilt.set_data_in_steps(gp.X, gp.y, gp.noise_variance, gp.standardized_at)
    rebuilt.set_theta(gp.theta.detach().numpy().copy())
    restore_structure(rebuilt, StructureSource.from_dict(source.to_dict()))
    got = rebuilt.predict(query)
    np.testing.assert_array_equal(got.mean, expected.mean)
    np.testing.assert_array_equal(got.variance, expected.variance)


def test_restore_refuses_a_source_it_cannot_rebuild():
    X, y = _edge_data(30, 3)
    gp = GaussianProcess(kernel="edge", input_bounds=[(0, 10), (0, 10)])
    gp.set_data(X, y, np.full(30, 1e-4))
    with pytest.raises(ConfigurationError, match="computed on 40 points"):
        restore_structure(gp, StructureSource(40, tuple(gp.theta.tolist()), 1.0))
    stationary = GaussianProcess(input_bounds=[(0, 10), (0, 10)])
    stationary.set_data(X, y)
    assert refresh_structure(stationary) is None
    with pytest.raises(ConfigurationError, match="no edge kernel"):
        restore_structure(stationary, StructureSource(30, (), 1.0))
