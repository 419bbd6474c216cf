"""Symmetric, lattice-periodic and axis-periodic kernels: invariance, validity, gradients.

The kernels also pass the engine's shared kernel contract (shapes, PSD, pickling,
gradcheck in inputs and hyperparameters), loaded from tests/unit/gp.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gpsteer.errors import ConfigurationError, InputError, ShapeError
from gpsteer.gp import GaussianProcess, fit_hyperparameters
from gpsteer.gp.kernels import (
    LatticePeriodic,
    Matern,
    Periodic,
    ScaleKernel,
    SquaredExponential,
    SymmetricKernel,
    SymmetryGroup,
    periodic_in_user_units,
)
from gpsteer.gp.kernels.lattice import estimate_period
from gpsteer.gp.kernels.symmetry import unit_box_maps
from tests.unit.gp.contracts import KernelContract
from tests.unit.gp.gp_reference import k_matern, k_se

D = torch.float64
BOUNDS = [(-1.0, 3.0), (-2.0, 2.0)]  # equal widths, off-centre: rotations stay orthogonal
CENTRE = (1.0, 0.0)
HEX_A = 0.5
HEX = [[HEX_A, 0.0], [HEX_A / 2, HEX_A * math.sqrt(3) / 2]]


def _user_points(n: int, seed: int, bounds=BOUNDS) -> np.ndarray:
    b = np.asarray(bounds)
    return b[:, 0] + np.random.default_rng(seed).uniform(0, 1, (n, 2)) * (b[:, 1] - b[:, 0])


def _unit(X: np.ndarray, bounds=BOUNDS) -> torch.Tensor:
    b = np.asarray(bounds)
    return torch.as_tensor((X - b[:, 0]) / (b[:, 1] - b[:, 0]), dtype=D)


def _bound(kernel, bounds=BOUNDS):
    kernel.bind(_unit(_user_points(9, 99, bounds), bounds))
    return kernel


# ----------------------------------------------------------------------------- groups
def test_group_orders_and_closure():
    assert len(SymmetryGroup.cyclic(6, CENTRE)) == 6
    assert len(SymmetryGroup.dihedral(6, CENTRE)) == 12
    assert len(SymmetryGroup.mirror(0.3, CENTRE)) == 2
    assert len(SymmetryGroup.reflection(3, axis=2, position=1.5)) == 2
    g = SymmetryGroup.cyclic(3, CENTRE) * SymmetryGroup.mirror(0.0, CENTRE)
    assert len(g) == 6  # D3
    # every product of two elements is an element (checked by the constructor too)
    X = _user_points(4, 0)
    images = g.apply(X)
    assert images.shape == (6, 4, 2)
    assert np.allclose(images[0], X) or any(np.allclose(im, X) for im in images)


def test_rotation_keeps_its_centre_fixed():
    for image in SymmetryGroup.cyclic(5, CENTRE).apply(np.array([CENTRE])):
        np.testing.assert_allclose(image[0], CENTRE, atol=1e-12)


def test_translation_is_not_a_finite_group():
    with pytest.raises(ConfigurationError, match="LatticePeriodic"):
        SymmetryGroup.from_generators([(np.eye(2), np.array([0.5, 0.0]))])


def test_maps_that_are_not_a_group_are_rejected():
    R = SymmetryGroup.cyclic(4).matrices
    with pytest.raises(ConfigurationError, match="not closed under composition"):
        SymmetryGroup(R[:3])  # {0, 90, 180} degrees: 90 + 180 is missing
    with pytest.raises(ConfigurationError, match="identity"):
        SymmetryGroup(R[1:2])
    with pytest.raises(ShapeError):
        SymmetryGroup(np.ones((2, 2, 3)))


# ----------------------------------------------------------------------------- invariance
@pytest.mark.parametrize("method", ["single", "double"])
@pytest.mark.parametrize(
    "group",
    [SymmetryGroup.cyclic(6, CENTRE), SymmetryGroup.dihedral(4, CENTRE, mirror_angle=0.4)],
    ids=["C6", "D4"],
)
def test_invariant_under_every_group_element_in_user_coordinates(group, method):
    k = _bound(
        SymmetricKernel(
            Matern(ard=False, lengthscale=0.2), group, input_bounds=BOUNDS, method=method
        )
    )
    X1, X2 = _user_points(7, 1), _user_points(5, 2)
    K = k(_unit(X1), _unit(X2))
    for image in group.apply(X1):
        torch.testing.assert_close(k(_unit(image), _unit(X2)), K, atol=1e-12, rtol=0)


def test_single_sum_equals_double_sum_for_isotropic_base():
    group = SymmetryGroup.dihedral(6, CENTRE)
    single = _bound(
        SymmetricKernel(
            SquaredExponential(ard=False, lengthscale=0.15),
            group,
            input_bounds=BOUNDS,
            method="single",
        )
    )
    double = _bound(
        SymmetricKernel(
            SquaredExponential(ard=False, lengthscale=0.15),
            group,
            input_bounds=BOUNDS,
            method="double",
        )
    )
    x1, x2 = _unit(_user_points(11, 3)), _unit(_user_points(6, 4))
    torch.testing.assert_close(single(x1, x2), double(x1, x2), atol=1e-13, rtol=0)
    torch.testing.assert_close(single.diag(x1), double.diag(x1), atol=1e-13, rtol=0)


def test_auto_uses_single_sum_only_where_it_holds():
    group = SymmetryGroup.cyclic(4, (1.0, 0.5))
    iso = _bound(SymmetricKernel(Matern(ard=False), group, input_bounds=BOUNDS))
    assert iso.method_used == "single"
    ard = _bound(SymmetricKernel(Matern(), group, input_bounds=BOUNDS))
    assert ard.method_used == "double"  # unequal length scales break rotation invariance
    mirror = SymmetryGroup.reflection(2, axis=0, position=1.0)
    assert _bound(SymmetricKernel(Matern(), mirror, input_bounds=BOUNDS)).method_used == "single"
    wide = [(0.0, 2.0), (0.0, 1.0)]  # a rotation is not orthogonal in this unit box
    k = _bound(SymmetricKernel(Matern(ard=False), group, input_bounds=wide), wide)
    assert k.method_used == "double"
    X1, X2 = _user_points(6, 5, wide), _user_points(4, 6, wide)
    K = k(_unit(X1, wide), _unit(X2, wide))
    for image in group.apply(X1):  # still exactly invariant, through the double sum
        torch.testing.assert_close(k(_unit(image, wide), _unit(X2, wide)), K, atol=1e-12, rtol=0)


def test_single_sum_refused_where_the_base_is_not_invariant():
    k = SymmetricKernel(
        Matern(), SymmetryGroup.cyclic(6, CENTRE), input_bounds=BOUNDS, method="single"
    )
    with pytest.raises(ConfigurationError, match="method='double'"):
        _bound(k)


def test_wrong_dimensions_are_reported():
    k = SymmetricKernel(Matern(), SymmetryGroup.cyclic(3), input_bounds=[(0, 1)] * 3)
    with pytest.raises(ShapeError, match="active_dims"):
        k.bind(torch.rand(5, 3, dtype=D))
    k = SymmetricKernel(
        Matern(), SymmetryGroup.cyclic(3), input_bounds=[(0, 1)] * 2, active_dims=[0, 1]
    )
    with pytest.raises(ShapeError, match="full input_bounds"):
        k.bind(torch.rand(5, 3, dtype=D))
    with pytest.raises(InputError):
        SymmetricKernel(Matern(), SymmetryGroup.cyclic(3), input_bounds=[(1, 0), (0, 1)])


def test_symmetric_gp_predicts_the_orbit_of_a_measurement():
    """One measured orbit point tells the GP the value on the whole orbit."""
    group = SymmetryGroup.cyclic(6, CENTRE)
    k = ScaleKernel(SymmetricKernel(Matern(ard=False, lengthscale=0.1), group, input_bounds=BOUNDS))
    gp = GaussianProcess(kernel=k, mean="zero", input_bounds=BOUNDS)
    X = np.array([[2.0, 0.3], [0.2, -1.1]])
    gp.set_data(X, np.array([1.0, -0.5]))
    gp.set_hyperparameters({"noise.variance": 1e-6})
    post = gp.predict(group.apply(X[:1])[:, 0])
    np.testing.assert_allclose(post.mean, 1.0, atol=1e-3)
    assert post.variance.max() < 1e-3 * gp.y_scale**2


# ----------------------------------------------------------------------------- lattice
def test_lattice_kernel_is_invariant_under_lattice_translations_and_its_point_group():
    bounds = [(0.0, 2.0), (0.0, 2.0)]
    k = _bound(LatticePeriodic(HEX, lengthscale=0.2, input_bounds=bounds), bounds)
    X1, X2 = _user_points(6, 7, bounds), _user_points(5, 8, bounds)
    K = k(_unit(X1, bounds), _unit(X2, bounds))
    for shift in (np.array(HEX[0]), np.array(HEX[1]), 2 * np.array(HEX[0]) - np.array(HEX[1])):
        torch.testing.assert_close(
            k(_unit(X1 + shift, bounds), _unit(X2, bounds)), K, atol=1e-12, rtol=0
        )
    # rotation by 60 degrees about a lattice point maps the lattice onto itself
    d6 = SymmetryGroup.dihedral(6, (0.0, 0.0))
    for image1, image2 in zip(d6.apply(X1), d6.apply(X2), strict=True):
        torch.testing.assert_close(
            k(_unit(image1, bounds), _unit(image2, bounds)), K, atol=1e-12, rtol=0
        )
    assert k.invariant_under(unit_box_maps(d6, np.asarray(bounds))[0])


def test_lattice_kernel_is_not_invariant_under_a_foreign_rotation():
    bounds = [(0.0, 2.0), (0.0, 2.0)]
    k = _bound(LatticePeriodic(HEX, input_bounds=bounds), bounds)
    c4 = SymmetryGroup.cyclic(4)
    assert not k.invariant_under(c4.matrices)
    sym = _bound(SymmetricKernel(k, c4, input_bounds=bounds), bounds)
    assert sym.method_used == "double"


def test_lattice_learned_scale_recovers_the_lattice_constant():
    a_true = 0.26
    bounds = [(0.0, 1.0)]
    rng = np.random.default_rng(3)
    X = rng.uniform(0, 1, (40, 1))
    y = np.cos(2 * np.pi * X[:, 0] / a_true) + 0.3 * np.sin(4 * np.pi * X[:, 0] / a_true)
    k = ScaleKernel(LatticePeriodic([[0.25]], input_bounds=bounds, learn_scale=True))
    gp = GaussianProcess(kernel=k, input_bounds=bounds)
    gp.set_data(X, y + 0.01 * rng.standard_normal(40))
    fit_hyperparameters(gp, n_starts=3, seed=0)
    scale = gp.hyperparameters()["kernel.base.scale"][0]
    assert abs(0.25 * scale - a_true) < 0.003


# ----------------------------------------------------------------------------- axis periodic
def test_periodic_active_dims_and_fixed_period_in_user_units():
    bounds = [(0.0, 10.0), (-1.0, 1.0)]
    k = periodic_in_user_units([2.5], bounds, dims=[0], fixed_period=True)
    gp = GaussianProcess(kernel=ScaleKernel(k * Matern(active_dims=[1])), input_bounds=bounds)
    rng = np.random.default_rng(4)
    X = np.column_stack([rng.uniform(0, 10, 30), rng.uniform(-1, 1, 30)])
    gp.set_data(X, np.sin(2 * np.pi * X[:, 0] / 2.5) * (1 + X[:, 1]))
    assert not any("period" in n and "lengthscale" not in n for n in gp.theta_names())
    fit_hyperparameters(gp, n_starts=1, seed=0, max_iter=30)
    assert gp.hyperparameters()["kernel.base.k1.period"] == pytest.approx([0.25])
    # shifting along the periodic axis by the period changes nothing; along the other it does
    u = _unit(X[:5], bounds)
    kern = gp.kernel
    shift = torch.tensor([[0.25, 0.0]], dtype=D)
    torch.testing.assert_close(kern(u + shift, u), kern(u, u), atol=1e-12, rtol=0)
    assert not torch.allclose(kern(u + torch.tensor([[0.0, 0.1]], dtype=D), u), kern(u, u))


def test_periodic_learns_the_period_from_a_periodogram_start():
    """A learned period converges from a Lomb-Scargle start (not from a guess 7 % off:
    over ten periods that is outside the likelihood's basin)."""
    rng = np.random.default_rng(5)
    X = rng.uniform(0, 3, (40, 1))
    y = np.sin(2 * np.pi * X[:, 0] / 0.3) + 0.01 * rng.standard_normal(40)
    p0 = estimate_period(X[:, 0], y, min_period=0.05, max_period=1.0)
    assert p0 == pytest.approx(0.3, rel=0.01)
    gp = GaussianProcess(
        kernel=ScaleKernel(periodic_in_user_units([p0], [(0, 3)], [0], fixed_period=False)),
        input_bounds=[(0, 3)],
    )
    gp.set_data(X, y)
    fit_hyperparameters(gp, n_starts=1, seed=0)
    assert 3.0 * gp.hyperparameters()["kernel.base.period"][0] == pytest.approx(0.3, rel=0.002)


def test_periodic_in_user_units_checks_its_arguments():
    with pytest.raises(ShapeError):
        periodic_in_user_units([1.0, 2.0], [(0, 1)], dims=[0])
    with pytest.raises(InputError):
        periodic_in_user_units([-1.0], [(0, 1)], dims=[0])
    assert isinstance(periodic_in_user_units([0.5], [(0, 4)], [0]), Periodic)


# ----------------------------------------------------------------------------- contracts
def _group_average(k, x1, x2, base, double):
    """Independent numpy reference: average ``base`` over the group's images."""
    images1 = k.group.apply(x1) if double else x1[None]
    images2 = k.group.apply(x2)
    blocks = [base(a, b) for a in images1 for b in images2]
    return np.mean(blocks, axis=0)


class TestSymmetricSingleContract(KernelContract):
    names = ("base.lengthscale",)

    def make_kernel(self):
        return SymmetricKernel(
            Matern(ard=False, lengthscale=0.3), SymmetryGroup.cyclic(3, (0.5, 0.5))
        )

    def reference(self, k, x1, x2):
        ls = self._v(k, "base.lengthscale")
        return _group_average(k, x1, x2, lambda a, b: k_matern(a, b, ls, 2.5), double=False)


class TestSymmetricDoubleContract(KernelContract):
    names = ("base.lengthscale",)

    def make_kernel(self):
        return SymmetricKernel(Matern(lengthscale=[0.3, 0.5]), SymmetryGroup.cyclic(4, (0.5, 0.5)))

    def reference(self, k, x1, x2):
        ls = self._v(k, "base.lengthscale")
        return _group_average(k, x1, x2, lambda a, b: k_matern(a, b, ls, 2.5), double=True)


class TestSymmetricOnTwoOfThreeColumns(KernelContract):
    dim = 3
    names = ("base.lengthscale",)

    def make_kernel(self):
        return SymmetricKernel(
            SquaredExponential(ard=False, lengthscale=0.4),
            SymmetryGroup.mirror(0.5, (0.5, 2.5)),
            active_dims=[0, 2],
            input_bounds=[(0, 1), (0, 5), (0, 5)],
        )

    def reference(self, k, x1, x2):
        ls = self._v(k, "base.lengthscale")
        scale = np.array([1.0, 5.0])  # user units of columns 0 and 2
        u1, u2 = x1[:, [0, 2]] * scale, x2[:, [0, 2]] * scale
        assert k.method_used == "double"  # widths 1 and 5: the mirror is skewed in the unit box
        return _group_average(k, u1, u2, lambda a, b: k_se(a / scale, b / scale, ls), double=True)


class TestLatticeContract(KernelContract):
    names = ("lengthscale", "scale")

    def make_kernel(self):
        return LatticePeriodic(HEX, lengthscale=0.3, n_harmonics=5, learn_scale=True)

    def reference(self, k, x1, x2):
        """The real-space lattice sum of an SE kernel, which the Fourier series equals
        (Poisson summation); its terms beyond the cut-off are below 1e-20 here."""
        a = np.asarray(HEX) * self._v(k, "scale")[0]
        ell = self._v(k, "lengthscale")[0] * HEX_A
        r = np.arange(-8, 9)
        R = (r[:, None, None] * a[0] + r[None, :, None] * a[1]).reshape(-1, 2)
        diff = x1[:, None, :] - x2[None, :, :]
        total = np.exp(-((diff[..., None, :] + R) ** 2).sum(-1) / (2 * ell**2)).sum(-1)
        zero = np.exp(-(R**2).sum(-1) / (2 * ell**2)).sum()
        return total / zero
