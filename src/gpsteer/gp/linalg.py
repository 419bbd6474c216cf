"""Cholesky factorisation that survives near-singular matrices, and its O(N^2) update."""

from __future__ import annotations

import math
import warnings

import torch

from gpsteer.errors import NumericalError, NumericalWarning

__all__ = ["append_cholesky", "gaussian_log_density", "robust_cholesky"]

_JITTERS = (0.0, 1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4)


def robust_cholesky(K: torch.Tensor, *, warn: bool = True) -> torch.Tensor:
    """Lower Cholesky factor of ``K``, adding escalating jitter if it is not positive definite.

    Jitter is relative to the mean diagonal. Duplicate inputs with no noise are the usual
    cause. Raises :class:`NumericalError` when even the largest jitter fails.
    """
    if K.shape[0] == 0:
        return K.clone()
    scale = K.diagonal().mean().abs().clamp_min(1e-300)
    eye = torch.eye(K.shape[0], dtype=K.dtype, device=K.device)
    for jitter in _JITTERS:
        L, info = torch.linalg.cholesky_ex(K + (jitter * scale) * eye if jitter else K)
        if int(info) == 0 and torch.isfinite(L).all():
            if jitter >= 1e-6 and warn:
                warnings.warn(
                    f"Kernel matrix was near-singular; added jitter {jitter:g} x mean diagonal. "
                    "Duplicate points with no noise cause this; a noise floor avoids it.",
                    NumericalWarning,
                    stacklevel=3,
                )
            return L
    raise NumericalError(
        f"Kernel matrix ({K.shape[0]} x {K.shape[0]}) is not positive definite even with "
        f"jitter {_JITTERS[-1]:g} x mean diagonal. Check the kernel is valid (a user kernel "
        "must be positive semi-definite) and that hyperparameters are finite, or allow noise."
    )


def append_cholesky(L: torch.Tensor, K12: torch.Tensor, K22: torch.Tensor) -> torch.Tensor:
    """Factor of ``[[K11, K12], [K12^T, K22]]`` from the factor ``L`` of ``K11``, in O(n^2 m).

    Used when new measurements arrive, instead of refactoring the whole matrix.
    """
    n, m = L.shape[0], K22.shape[0]
    L21 = torch.linalg.solve_triangular(L, K12, upper=False).T if n else K12.T
    S = K22 - L21 @ L21.T
    L22 = robust_cholesky(0.5 * (S + S.T))
    out = torch.zeros(n + m, n + m, dtype=L.dtype, device=L.device)
    out[:n, :n] = L
    out[n:, :n] = L21
    out[n:, n:] = L22
    return out


class _GaussianLogDensity(torch.autograd.Function):
    """``log N(r; 0, K)`` with the textbook adjoint ``0.5 (a a^T - K^-1)`` as its backward.

    Autograd through a Cholesky factor costs several extra O(n^3) passes; this backward
    needs one ``cholesky_inverse``. Everything upstream of ``K`` and ``r`` (kernels,
    means, noise) is still differentiated by autograd.
    """

    @staticmethod
    def forward(ctx, K: torch.Tensor, r: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        L = robust_cholesky(K, warn=False)
        alpha = torch.cholesky_solve(r.unsqueeze(-1), L).squeeze(-1)
        n = r.shape[0]
        value = -0.5 * (r * alpha).sum() - torch.log(L.diagonal()).sum() - 0.5 * n * _LOG_2PI
        ctx.save_for_backward(L, alpha)
        return value

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:  # type: ignore[override]
        L, alpha = ctx.saved_tensors
        grad_K = grad_r = None
        if ctx.needs_input_grad[0]:
            grad_K = (0.5 * grad) * (torch.outer(alpha, alpha) - torch.cholesky_inverse(L))
        if ctx.needs_input_grad[1]:
            grad_r = -grad * alpha
        return grad_K, grad_r


_LOG_2PI = math.log(2.0 * math.pi)


def gaussian_log_density(K: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """``log N(r; 0, K)``, differentiable in ``K`` and ``r`` at the cost of one extra O(n^3)."""
    return _GaussianLogDensity.apply(K, r)
