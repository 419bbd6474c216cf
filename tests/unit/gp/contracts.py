"""Contract mixins: every kernel, mean and noise model passes the same checks.

As in GPyTorch's ``BaseKernelTestCase``, a concrete test class only supplies a
factory (and, where one exists, an independent numpy reference of the covariance);
these mixins hold the tests. Test modules subclass them:
``from tests.unit.gp.contracts import KernelContract``.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from gpsteer.errors import ShapeError
from gpsteer.gp.kernels import Kernel

D = torch.float64


def sample_points(n: int, d: int, seed: int) -> torch.Tensor:
    return torch.rand(n, d, dtype=D, generator=torch.Generator().manual_seed(seed))


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
        k.bind(sample_points(7, self.dim, 99))
        return k

    @staticmethod
    def _v(k: Kernel, name: str) -> np.ndarray:
        return k.hyperparameter(name).value.detach().numpy()

    def test_shapes(self):
        k = self.bound_kernel()
        x1, x2 = sample_points(5, self.dim, 0), sample_points(3, self.dim, 1)
        assert k(x1, x2).shape == (5, 3)
        assert k(x1).shape == (5, 5)
        assert k.diag(x1).shape == (5,)
        assert k(x1[:0], x2).shape == (0, 3)
        assert k.diag(x1[:0]).shape == (0,)

    def test_diag_equals_diagonal_of_matrix(self):
        k = self.bound_kernel()
        x = sample_points(6, self.dim, 2)
        torch.testing.assert_close(k.diag(x), k(x).diagonal(), atol=1e-12, rtol=1e-10)

    def test_standalone_call_binds_lazily(self):
        k = self.make_kernel()
        x = sample_points(4, self.dim, 3)
        K = k(x)
        assert K.shape == (4, 4)
        assert torch.isfinite(K).all()

    def test_dtype_follows_module(self):
        k = self.bound_kernel()
        assert k(sample_points(4, self.dim, 4)).dtype == torch.float64
        k.to("cpu", torch.float32)
        out = k(sample_points(4, self.dim, 4).float())
        assert out.dtype == torch.float32
        assert all(hp.raw.dtype == torch.float32 for _, hp in k.named_hyperparameters())

    def test_symmetric(self):
        k = self.bound_kernel()
        K = k(sample_points(8, self.dim, 5))
        torch.testing.assert_close(K, K.T, atol=1e-12, rtol=0)

    def test_positive_semidefinite(self):
        k = self.bound_kernel()
        K = k(sample_points(25, self.dim, 6))
        eig = torch.linalg.eigvalsh(0.5 * (K + K.T))
        assert eig.min() >= -1e-9 * eig.abs().max()

    def test_pickle_round_trip(self):
        k = self.bound_kernel()
        k2 = pickle.loads(pickle.dumps(k))
        x = sample_points(5, self.dim, 7)
        torch.testing.assert_close(k2(x), k(x), atol=0, rtol=0)
        assert k2.hyperparameter_values() == k.hyperparameter_values()

    def test_gradient_wrt_inputs(self):
        k = self.bound_kernel()
        x1 = sample_points(3, self.dim, 8).requires_grad_()
        x2 = sample_points(4, self.dim, 9) + 0.05  # no coincident points (Matérn 1/2 has a kink)
        assert torch.autograd.gradcheck(lambda a: k(a, x2), (x1,))

    def test_gradient_wrt_hyperparameters(self):
        k = self.bound_kernel()
        hps = [hp for _, hp in k.named_hyperparameters()]
        raws = [hp.raw.detach().clone().requires_grad_() for hp in hps]
        x1, x2 = sample_points(4, self.dim, 10), sample_points(3, self.dim, 11) + 0.05

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
        x1, x2 = sample_points(6, self.dim, 12), sample_points(5, self.dim, 13)
        ref = self.reference(k, x1.numpy(), x2.numpy())
        if ref is None:
            pytest.skip(f"{type(self).__name__} has no independent reference")
        np.testing.assert_allclose(k(x1, x2).detach().numpy(), ref, rtol=1e-10, atol=1e-12)

    def test_rejects_non_2d_inputs(self):
        k = self.bound_kernel()
        with pytest.raises(ShapeError, match="must be 2-D with the same number of columns"):
            k(torch.zeros(self.dim, dtype=D))
        with pytest.raises(ShapeError, match="must be 2-D with the same number of columns"):
            k(sample_points(3, self.dim, 0), sample_points(3, self.dim + 1, 0))

    def test_rejects_wrong_dimension_after_binding(self):
        k = self.bound_kernel()
        with pytest.raises(ShapeError, match="input dimension"):
            k(sample_points(3, self.dim + 1, 0))


class MeanContract:
    """Mixin: ``make_mean()`` builds a fresh prior mean; ``expected(X)`` its value."""

    names: tuple[str, ...] = ()

    def make_mean(self):
        raise NotImplementedError

    def expected(self, mean, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def bound_mean(self):
        m = self.make_mean()
        X = sample_points(10, 2, 20) * 10.0
        m.bind(X, 3.0 + X[:, 0])
        return m

    def test_shape_dtype_and_value(self):
        m = self.bound_mean()
        X = sample_points(6, 2, 21) * 10.0
        out = m(X)
        assert out.shape == (6,) and out.dtype == torch.float64
        np.testing.assert_allclose(out.detach().numpy(), self.expected(m, X.numpy()), rtol=1e-12)

    def test_named_hyperparameters(self):
        assert tuple(n for n, _ in self.bound_mean().named_hyperparameters()) == self.names

    def test_pickle_round_trip(self):
        m = self.bound_mean()
        X = sample_points(4, 2, 22)
        torch.testing.assert_close(pickle.loads(pickle.dumps(m))(X), m(X), atol=0, rtol=0)

    def test_gradient_wrt_inputs_and_hyperparameters(self):
        m = self.bound_mean()
        X = sample_points(4, 2, 23).requires_grad_()
        assert torch.autograd.gradcheck(m, (X,))
        hps = [hp for _, hp in m.named_hyperparameters()]
        raws = [hp.raw.detach().clone().requires_grad_() for hp in hps]

        def f(*r):
            for hp, raw in zip(hps, r, strict=True):
                hp.raw = raw
            return m(X.detach())

        if raws:
            assert torch.autograd.gradcheck(f, tuple(raws))


class NoiseContract:
    """Mixin: ``make_noise()``; ``measured`` is what the model passes (or None)."""

    names: tuple[str, ...] = ()
    measured: torch.Tensor | None = None

    def make_noise(self):
        raise NotImplementedError

    def test_diagonal_shape_positive_and_gradient(self):
        nm = self.make_noise()
        like = sample_points(5, 2, 30)
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
        like = sample_points(5, 2, 30)
        torch.testing.assert_close(
            nm2.diagonal(self.measured, 5, like), nm.diagonal(self.measured, 5, like)
        )
