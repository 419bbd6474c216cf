"""Contract tests: every kernel, mean and noise model passes the same checks.

As in GPyTorch's ``BaseKernelTestCase``, a concrete test class only supplies a
factory (and, where one exists, an independent numpy reference of the covariance);
the mixins (:mod:`tests.unit.gp.contracts`) hold the tests. Adding a kernel to
gpsteer means adding one small class here.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gpsteer.errors import ConfigurationError, InputError, ShapeError
from gpsteer.gp import (
    ConstantMean,
    FunctionKernel,
    FunctionMean,
    HomoscedasticNoise,
    Linear,
    Matern,
    MeasuredNoise,
    Periodic,
    ScaleKernel,
    SquaredExponential,
    ZeroMean,
)
from gpsteer.gp.kernels import ProductKernel, SumKernel
from tests.unit.gp.contracts import D, KernelContract, MeanContract, NoiseContract, sample_points
from tests.unit.gp.gp_reference import k_linear, k_matern, k_periodic, k_se


def rational_quadratic(x1: torch.Tensor, x2: torch.Tensor, p: dict) -> torch.Tensor:
    """A user kernel (module level so that it pickles)."""
    d2 = ((x1.unsqueeze(1) - x2.unsqueeze(0)) ** 2).sum(-1)
    return p["amp"] * (1.0 + d2 / (2.0 * p["scale"] ** 2)) ** -2.0


class TestSquaredExponential(KernelContract):
    names = ("lengthscale",)

    def make_kernel(self):
        return SquaredExponential(lengthscale=[0.3, 0.5])

    def reference(self, k, x1, x2):
        return k_se(x1, x2, self._v(k, "lengthscale"))


class _MaternContract(KernelContract):
    nu = 2.5
    names = ("lengthscale",)

    def make_kernel(self):
        return Matern(nu=self.nu, lengthscale=[0.4, 0.25])

    def reference(self, k, x1, x2):
        return k_matern(x1, x2, self._v(k, "lengthscale"), self.nu)


class TestMatern12(_MaternContract):
    nu = 0.5


class TestMatern32(_MaternContract):
    nu = 1.5


class TestMatern52(_MaternContract):
    nu = 2.5


class TestMaternSharedLengthscale(_MaternContract):
    def make_kernel(self):
        return Matern(nu=2.5, ard=False)

    def test_one_lengthscale(self):
        assert self.bound_kernel().hyperparameter("lengthscale").size == 1


class TestPeriodic(KernelContract):
    names = ("period", "lengthscale")

    def make_kernel(self):
        return Periodic(period=[0.3, 0.45], lengthscale=[0.8, 1.3])

    def reference(self, k, x1, x2):
        return k_periodic(x1, x2, self._v(k, "period"), self._v(k, "lengthscale"))


class TestPeriodicOnOneAxis(KernelContract):
    """``active_dims``: the kernel looks at column 1 only."""

    dim = 3
    names = ("period", "lengthscale")

    def make_kernel(self):
        return Periodic(period=0.3, lengthscale=0.9, active_dims=[1])

    def reference(self, k, x1, x2):
        p, ls = self._v(k, "period"), self._v(k, "lengthscale")
        return k_periodic(x1[:, [1]], x2[:, [1]], p, ls)


class TestLinear(KernelContract):
    names = ("variance", "offset")

    def make_kernel(self):
        return Linear(variance=2.0, offset=0.3)

    def reference(self, k, x1, x2):
        return k_linear(x1, x2, self._v(k, "variance"), self._v(k, "offset"))

    def test_positive_semidefinite(self):  # rank d + 1: PSD, far from definite
        k = self.bound_kernel()
        eig = torch.linalg.eigvalsh(k(sample_points(25, self.dim, 6)))
        assert eig.min() >= -1e-9 * eig.abs().max()


class TestScale(KernelContract):
    names = ("outputscale", "base.lengthscale")

    def make_kernel(self):
        return ScaleKernel(Matern(nu=1.5, lengthscale=0.3), outputscale=2.5)

    def reference(self, k, x1, x2):
        base = k_matern(x1, x2, self._v(k, "base.lengthscale"), 1.5)
        return self._v(k, "outputscale") * base


class TestScaleByMultiplication(TestScale):
    def make_kernel(self):
        k = 2.5 * Matern(nu=1.5, lengthscale=0.3)
        assert isinstance(k, ScaleKernel)
        return k


class TestSum(KernelContract):
    names = ("k1.lengthscale", "k2.variance", "k2.offset")

    def make_kernel(self):
        k = SquaredExponential(lengthscale=0.2) + Linear(variance=0.5)
        assert isinstance(k, SumKernel)
        return k

    def reference(self, k, x1, x2):
        return k_se(x1, x2, self._v(k, "k1.lengthscale")) + k_linear(
            x1, x2, self._v(k, "k2.variance"), self._v(k, "k2.offset")
        )


class TestProduct(KernelContract):
    names = ("k1.period", "k1.lengthscale", "k2.lengthscale")

    def make_kernel(self):
        k = Periodic(period=0.4, lengthscale=1.1) * SquaredExponential(lengthscale=[0.5, 0.7])
        assert isinstance(k, ProductKernel)
        return k

    def reference(self, k, x1, x2):
        per = k_periodic(x1, x2, self._v(k, "k1.period"), self._v(k, "k1.lengthscale"))
        return per * k_se(x1, x2, self._v(k, "k2.lengthscale"))


class TestFunctionKernel(KernelContract):
    names = ("amp", "scale")

    def make_kernel(self):
        return FunctionKernel(
            rational_quadratic, {"amp": (1.5, (1e-3, 1e3)), "scale": (0.3, (1e-3, 10.0))}
        )

    def reference(self, k, x1, x2):
        d2 = ((x1[:, None, :] - x2[None, :, :]) ** 2).sum(-1)
        amp, scale = self._v(k, "amp"), self._v(k, "scale")
        return amp * (1 + d2 / (2 * scale**2)) ** -2.0


def test_function_kernel_rejects_wrong_output_shape():
    k = FunctionKernel(lambda a, b, p: p["s"] * torch.ones(3, dtype=D), {"s": (1.0, (0.1, 10))})
    with pytest.raises(ShapeError, match=r"it must return \(2, 2\)"):
        k(sample_points(2, 2, 0))


def test_function_kernel_rejects_bad_parameter_spec():
    with pytest.raises(InputError, match=r"give \(initial, \(lo, hi\)\)"):
        FunctionKernel(rational_quadratic, {"amp": (1.0,)})


def test_kernels_combine_only_with_kernels():
    with pytest.raises(InputError, match="Kernels combine only with kernels; got str"):
        SquaredExponential() + "rbf"  # type: ignore[operator]


# ---------------------------------------------------------------- mean contract
class TestZeroMean(MeanContract):
    def make_mean(self):
        return ZeroMean()

    def expected(self, mean, X):
        return np.zeros(len(X))


class TestConstantMean(MeanContract):
    names = ("constant",)

    def make_mean(self):
        return ConstantMean()

    def expected(self, mean, X):
        return np.full(len(X), mean.hyperparameter("constant").value.item())

    def test_starts_at_the_data_mean(self):
        m = self.bound_mean()
        X = sample_points(10, 2, 20) * 10.0
        assert m.hyperparameter("constant").value.item() == pytest.approx(
            float((3.0 + X[:, 0]).mean())
        )


def plane(X: torch.Tensor, p: dict) -> torch.Tensor:
    return p["a"] + p["b"] * X[:, 0] - p["c"] * X[:, 1] ** 2


class TestFunctionMean(MeanContract):
    names = ("a", "b", "c")

    def make_mean(self):
        return FunctionMean(
            plane, {"a": (1.0, (-10, 10)), "b": (-0.5, (-5, 5)), "c": (0.2, (0, 1))}
        )

    def expected(self, mean, X):
        a, b, c = (mean.hyperparameter(n).value.item() for n in "abc")
        return a + b * X[:, 0] - c * X[:, 1] ** 2


def test_function_mean_rejects_wrong_output_shape():
    m = FunctionMean(lambda X, p: p["a"] * X, {"a": (1.0, (0, 2))})
    with pytest.raises(ShapeError, match=r"it must return \(3,\)"):
        m(sample_points(3, 2, 0))


# ---------------------------------------------------------------- noise contract
class TestHomoscedasticNoise(NoiseContract):
    names = ("variance",)

    def make_noise(self):
        return HomoscedasticNoise(0.05)

    def test_value(self):
        d = self.make_noise().diagonal(None, 3, sample_points(3, 1, 0))
        torch.testing.assert_close(d, torch.full((3,), 0.05, dtype=D))

    def test_refuses_measured_variances(self):
        with pytest.raises(ConfigurationError, match="use MeasuredNoise"):
            self.make_noise().diagonal(torch.ones(3, dtype=D), 3, sample_points(3, 1, 0))

    def test_rejects_non_positive_variance(self):
        with pytest.raises(InputError, match="Noise variance must be > 0; got 0"):
            HomoscedasticNoise(0.0)


class TestMeasuredNoise(NoiseContract):
    names = ("floor",)
    measured = torch.tensor([0.1, 0.2, 0.0, 0.4, 1.0], dtype=D)

    def make_noise(self):
        return MeasuredNoise(floor=1e-3)

    def test_value_is_measured_plus_floor(self):
        d = self.make_noise().diagonal(self.measured, 5, sample_points(5, 1, 0))
        torch.testing.assert_close(d, self.measured + 1e-3)

    def test_needs_measured_variances(self):
        with pytest.raises(ConfigurationError, match="pass noise_variance= with the data"):
            self.make_noise().diagonal(None, 3, sample_points(3, 1, 0))

    def test_fixed_floor_without_learning(self):
        assert MeasuredNoise(learn_floor=False).hyperparameter("floor").fixed


@pytest.mark.parametrize("nu", [0.5, 1.5, 2.5])
def test_self_covariance_has_an_exact_unit_diagonal(nu):
    """k(x, x) = 1 for unit-variance stationary kernels, also with short length scales.

    Expanding |a - b|^2 leaves ~1e-15 on the diagonal; Matérn 1/2 takes its square root,
    so without care the diagonal is 1 - 1e-8 and disagrees with ``diag()``.
    """
    k = Matern(nu=nu, lengthscale=0.03, active_dims=[0, 1])
    x = sample_points(30, 3, 40)
    torch.testing.assert_close(k(x).diagonal(), torch.ones(30, dtype=D), atol=1e-15, rtol=0)
    torch.testing.assert_close(k(x).diagonal(), k.diag(x), atol=1e-15, rtol=0)
