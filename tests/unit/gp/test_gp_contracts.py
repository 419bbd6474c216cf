"""Contract tests: every kernel, mean and noise model passes the same checks.

As in GPyTorch's ``BaseKernelTestCase``, a concrete test class only supplies a
factory (and, where one exists, an independent numpy reference of the covariance);
the mixins hold the tests. Adding a kernel to gpsteer means adding one small class
here.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from gp_reference import k_linear, k_matern, k_periodic, k_se

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
from gpsteer.gp.kernels import Kernel, ProductKernel, SumKernel

D = torch.float64


def _points(n: int, d: int, seed: int) -> torch.Tensor:
    return torch.rand(n, d, dtype=D, generator=torch.Generator().manual_seed(seed))


def rational_quadratic(x1: torch.Tensor, x2: torch.Tensor, p: dict) -> torch.Tensor:
    """A user kernel (module level so that it pickles)."""
    d2 = ((x1.unsqueeze(1) - x2.unsqueeze(0)) ** 2).sum(-1)
    return p["amp"] * (1.0 + d2 / (2.0 * p["scale"] ** 2)) ** -2.0


# ---------------------------------------------------------------- kernel contract
class KernelContract:
    """Mixin: ``make_kernel()`` builds a fresh kernel for ``dim``-D inputs."""

    dim = 2
    #: dotted names the kernel must report after binding to ``dim``-D data
    names: tuple[str, ...] = ()

    def make_kernel(self) -> Kernel:
        raise NotImplementedError

    def reference(self, k: Kernel, x1: np.ndarray, x2: np.ndarray) -> np.ndarray | None:
        """Independent numpy covariance from the kernel's hyperparameter values."""
        return None

    def bound_kernel(self) -> Kernel:
        k = self.make_kernel()
        k.bind(_points(7, self.dim, 99))
        return k

    @staticmethod
    def _v(k: Kernel, name: str) -> np.ndarray:
        return k.hyperparameter(name).value.detach().numpy()

    def test_shapes(self):
        k = self.bound_kernel()
        x1, x2 = _points(5, self.dim, 0), _points(3, self.dim, 1)
        assert k(x1, x2).shape == (5, 3)
        assert k(x1).shape == (5, 5)
        assert k.diag(x1).shape == (5,)
        assert k(x1[:0], x2).shape == (0, 3)
        assert k.diag(x1[:0]).shape == (0,)

    def test_diag_equals_diagonal_of_matrix(self):
        k = self.bound_kernel()
        x = _points(6, self.dim, 2)
        torch.testing.assert_close(k.diag(x), k(x).diagonal(), atol=1e-12, rtol=1e-10)

    def test_standalone_call_binds_lazily(self):
        k = self.make_kernel()
        x = _points(4, self.dim, 3)
        K = k(x)
        assert K.shape == (4, 4)
        assert torch.isfinite(K).all()

    def test_dtype_follows_module(self):
        k = self.bound_kernel()
        assert k(_points(4, self.dim, 4)).dtype == torch.float64
        k.to("cpu", torch.float32)
        out = k(_points(4, self.dim, 4).float())
        assert out.dtype == torch.float32
        assert all(hp.raw.dtype == torch.float32 for _, hp in k.named_hyperparameters())

    def test_symmetric(self):
        k = self.bound_kernel()
        K = k(_points(8, self.dim, 5))
        torch.testing.assert_close(K, K.T, atol=1e-12, rtol=0)

    def test_positive_semidefinite(self):
        k = self.bound_kernel()
        K = k(_points(25, self.dim, 6))
        eig = torch.linalg.eigvalsh(0.5 * (K + K.T))
        assert eig.min() >= -1e-9 * eig.abs().max()

    def test_pickle_round_trip(self):
        k = self.bound_kernel()
        k2 = pickle.loads(pickle.dumps(k))
        x = _points(5, self.dim, 7)
        torch.testing.assert_close(k2(x), k(x), atol=0, rtol=0)
        assert k2.hyperparameter_values() == k.hyperparameter_values()

    def test_gradient_wrt_inputs(self):
        k = self.bound_kernel()
        x1 = _points(3, self.dim, 8).requires_grad_()
        x2 = _points(4, self.dim, 9) + 0.05  # no coincident points (Matérn 1/2 has a kink)
        assert torch.autograd.gradcheck(lambda a: k(a, x2), (x1,))

    def test_gradient_wrt_hyperparameters(self):
        k = self.bound_kernel()
        hps = [hp for _, hp in k.named_hyperparameters()]
        raws = [hp.raw.detach().clone().requires_grad_() for hp in hps]
        x1, x2 = _points(4, self.dim, 10), _points(3, self.dim, 11) + 0.05

        def cov(*r):
            for hp, raw in zip(hps, r, strict=True):
                hp.raw = raw
            return k(x1, x2)

        assert torch.autograd.gradcheck(cov, tuple(raws))
        # every hyperparameter actually influences the covariance
        K = cov(*raws)
        grads = torch.autograd.grad(K.sum(), raws)
        assert all(g.abs().sum() > 0 for g in grads)

    def test_named_hyperparameters(self):
        k = self.bound_kernel()
        table = dict(k.named_hyperparameters())
        assert tuple(table) == self.names
        for name, hp in table.items():
            lo, hi = hp.bounds
            v = hp.value.detach()
            assert ((v >= lo) & (v <= hi)).all(), name
            assert k.hyperparameter(name) is hp
            # set_value round-trips in the constrained space
            new = torch.full_like(v, float(np.sqrt(lo * hi)) if hp.transform == "log" else 0.0)
            hp.set_value(new)
            torch.testing.assert_close(hp.value, new)
        with pytest.raises(KeyError, match="No hyperparameter named 'nope'; known"):
            k.hyperparameter("nope")

    def test_matches_reference(self):
        k = self.bound_kernel()
        x1, x2 = _points(6, self.dim, 12), _points(5, self.dim, 13)
        ref = self.reference(k, x1.numpy(), x2.numpy())
        if ref is None:
            pytest.skip(f"{type(self).__name__} has no independent reference")
        np.testing.assert_allclose(k(x1, x2).detach().numpy(), ref, rtol=1e-10, atol=1e-12)

    def test_rejects_non_2d_inputs(self):
        k = self.bound_kernel()
        with pytest.raises(ShapeError, match="must be 2-D with the same number of columns"):
            k(torch.zeros(self.dim, dtype=D))
        with pytest.raises(ShapeError, match="must be 2-D with the same number of columns"):
            k(_points(3, self.dim, 0), _points(3, self.dim + 1, 0))

    def test_rejects_wrong_dimension_after_binding(self):
        k = self.bound_kernel()
        with pytest.raises(ShapeError, match="input dimension"):
            k(_points(3, self.dim + 1, 0))


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
        eig = torch.linalg.eigvalsh(k(_points(25, self.dim, 6)))
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
        k(_points(2, 2, 0))


def test_function_kernel_rejects_bad_parameter_spec():
    with pytest.raises(InputError, match=r"give \(initial, \(lo, hi\)\)"):
        FunctionKernel(rational_quadratic, {"amp": (1.0,)})


def test_kernels_combine_only_with_kernels():
    with pytest.raises(InputError, match="Kernels combine only with kernels; got str"):
        SquaredExponential() + "rbf"  # type: ignore[operator]


# ---------------------------------------------------------------- mean contract
class MeanContract:
    """Mixin: ``make_mean()`` builds a fresh prior mean; ``expected(X)`` its value."""

    names: tuple[str, ...] = ()

    def make_mean(self):
        raise NotImplementedError

    def expected(self, mean, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def bound_mean(self):
        m = self.make_mean()
        X = _points(10, 2, 20) * 10.0
        m.bind(X, 3.0 + X[:, 0])
        return m

    def test_shape_dtype_and_value(self):
        m = self.bound_mean()
        X = _points(6, 2, 21) * 10.0
        out = m(X)
        assert out.shape == (6,) and out.dtype == torch.float64
        np.testing.assert_allclose(out.detach().numpy(), self.expected(m, X.numpy()), rtol=1e-12)

    def test_named_hyperparameters(self):
        assert tuple(n for n, _ in self.bound_mean().named_hyperparameters()) == self.names

    def test_pickle_round_trip(self):
        m = self.bound_mean()
        X = _points(4, 2, 22)
        torch.testing.assert_close(pickle.loads(pickle.dumps(m))(X), m(X), atol=0, rtol=0)

    def test_gradient_wrt_inputs_and_hyperparameters(self):
        m = self.bound_mean()
        X = _points(4, 2, 23).requires_grad_()
        assert torch.autograd.gradcheck(m, (X,))
        hps = [hp for _, hp in m.named_hyperparameters()]
        raws = [hp.raw.detach().clone().requires_grad_() for hp in hps]

        def f(*r):
            for hp, raw in zip(hps, r, strict=True):
                hp.raw = raw
            return m(X.detach())

        if raws:
            assert torch.autograd.gradcheck(f, tuple(raws))


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
        X = _points(10, 2, 20) * 10.0
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
        m(_points(3, 2, 0))


# ---------------------------------------------------------------- noise contract
class NoiseContract:
    """Mixin: ``make_noise()``; ``measured`` is what the model passes (or None)."""

    names: tuple[str, ...] = ()
    measured: torch.Tensor | None = None

    def make_noise(self):
        raise NotImplementedError

    def test_diagonal_shape_positive_and_gradient(self):
        nm = self.make_noise()
        like = _points(5, 2, 30)
        diag = nm.diagonal(self.measured, 5, like)
        assert diag.shape == (5,) and diag.dtype == torch.float64
        assert (diag > 0).all()
        hp = dict(nm.named_hyperparameters())[self.names[0]]
        raw = hp.raw.detach().clone().requires_grad_()

        def f(r):
            hp.raw = r
            return nm.diagonal(self.measured, 5, like)

        assert torch.autograd.gradcheck(f, (raw,))

    def test_named_hyperparameters_and_pickle(self):
        nm = self.make_noise()
        assert tuple(n for n, _ in nm.named_hyperparameters()) == self.names
        nm2 = pickle.loads(pickle.dumps(nm))
        like = _points(5, 2, 30)
        torch.testing.assert_close(
            nm2.diagonal(self.measured, 5, like), nm.diagonal(self.measured, 5, like)
        )


class TestHomoscedasticNoise(NoiseContract):
    names = ("variance",)

    def make_noise(self):
        return HomoscedasticNoise(0.05)

    def test_value(self):
        d = self.make_noise().diagonal(None, 3, _points(3, 1, 0))
        torch.testing.assert_close(d, torch.full((3,), 0.05, dtype=D))

    def test_refuses_measured_variances(self):
        with pytest.raises(ConfigurationError, match="use MeasuredNoise"):
            self.make_noise().diagonal(torch.ones(3, dtype=D), 3, _points(3, 1, 0))

    def test_rejects_non_positive_variance(self):
        with pytest.raises(InputError, match="Noise variance must be > 0; got 0"):
            HomoscedasticNoise(0.0)


class TestMeasuredNoise(NoiseContract):
    names = ("floor",)
    measured = torch.tensor([0.1, 0.2, 0.0, 0.4, 1.0], dtype=D)

    def make_noise(self):
        return MeasuredNoise(floor=1e-3)

    def test_value_is_measured_plus_floor(self):
        d = self.make_noise().diagonal(self.measured, 5, _points(5, 1, 0))
        torch.testing.assert_close(d, self.measured + 1e-3)

    def test_needs_measured_variances(self):
        with pytest.raises(ConfigurationError, match="pass noise_variance= with the data"):
            self.make_noise().diagonal(None, 3, _points(3, 1, 0))

    def test_fixed_floor_without_learning(self):
        assert MeasuredNoise(learn_floor=False).hyperparameter("floor").fixed


@pytest.mark.parametrize("nu", [0.5, 1.5, 2.5])
def test_self_covariance_has_an_exact_unit_diagonal(nu):
    """k(x, x) = 1 for unit-variance stationary kernels, also with short length scales.

    Expanding |a - b|^2 leaves ~1e-15 on the diagonal; Matérn 1/2 takes its square root,
    so without care the diagonal is 1 - 1e-8 and disagrees with ``diag()``.
    """
    k = Matern(nu=nu, lengthscale=0.03, active_dims=[0, 1])
    x = _points(30, 3, 40)
    torch.testing.assert_close(k(x).diagonal(), torch.ones(30, dtype=D), atol=1e-15, rtol=0)
    torch.testing.assert_close(k(x).diagonal(), k.diag(x), atol=1e-15, rtol=0)
