"""Prior means, in the user's units of inputs and outputs.

A GP models the deviation of the data from its prior mean. The default is a
trainable constant; a physics model ``m(x, params)`` goes in :class:`FunctionMean`
so the GP only has to learn what the physics does not explain.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch

from gpsteer.errors import InputError, ShapeError, UnknownNameError
from gpsteer.gp.hyperparameters import Module

__all__ = ["ConstantMean", "FunctionMean", "Mean", "ZeroMean", "make_mean"]


class Mean(Module):
    """``m(X) -> (n,)`` in user units, for ``X`` ``(n, d)`` in user units."""

    def __call__(self, X: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(X)")


class ZeroMean(Mean):
    """Prior mean 0 (in user units): for data known to fluctuate around zero."""

    def __call__(self, X: torch.Tensor) -> torch.Tensor:
        return torch.zeros(X.shape[0], dtype=X.dtype, device=X.device)


class ConstantMean(Mean):
    """A trainable constant; starts at the data mean, bounded to a wide range around the data."""

    def __init__(self, constant: float | None = None, *, fixed: bool = False) -> None:
        super().__init__()
        self._init = constant
        self._fixed = fixed

    def bind(self, X: torch.Tensor, y: torch.Tensor | None = None) -> None:
        if y is None:
            return
        lo, hi = (float(y.min()), float(y.max())) if y.numel() else (0.0, 0.0)
        span = max(hi - lo, abs(hi), abs(lo), 1e-12)
        if "constant" in self._hyperparameters:
            # New data may lie far from the first: widen (never narrow) the bounds.
            hp = self._hyperparameters["constant"]
            hp.bounds = (min(hp.bounds[0], lo - 10 * span), max(hp.bounds[1], hi + 10 * span))
            if hi > lo:
                hp.start_bounds = (lo, hi)
            return
        init = float(y.mean()) if self._init is None else float(self._init)
        bounds = (min(lo, init) - 10 * span, max(hi, init) + 10 * span)
        self.register_hyperparameter(
            "constant",
            init,
            bounds=bounds,
            transform="identity",
            fixed=self._fixed,
            like=X,
            start_bounds=(lo, hi) if hi > lo else None,
        )

    def __call__(self, X: torch.Tensor) -> torch.Tensor:
        if "constant" not in self._hyperparameters:
            return torch.zeros(X.shape[0], dtype=X.dtype, device=X.device)
        return self._value("constant").expand(X.shape[0])


class FunctionMean(Mean):
    """A user model ``fn(X, params) -> (n,)`` with trainable parameters.

    ``parameters`` maps names to ``(initial, (lo, hi))`` or ``(initial, (lo, hi),
    transform)``; the default transform is ``"identity"`` (physics parameters may be
    negative).

    Examples
    --------
    >>> import torch
    >>> plane = FunctionMean(lambda X, p: p["a"] + p["b"] * X[:, 0],
    ...                      {"a": (0.0, (-10, 10)), "b": (1.0, (-5, 5))})
    >>> plane(torch.tensor([[2.0, 0.0]], dtype=torch.float64)).tolist()
    [2.0]
    """

    def __init__(
        self,
        fn: Callable[[torch.Tensor, dict[str, torch.Tensor]], torch.Tensor],
        parameters: Mapping[str, tuple],
    ) -> None:
        if not callable(fn):
            raise InputError(f"FunctionMean needs a callable; got {type(fn).__name__}.")
        super().__init__()
        self.fn = fn
        for name, spec in parameters.items():
            if not 2 <= len(spec) <= 3:
                raise InputError(
                    f"Mean parameter {name!r}: give (initial, (lo, hi)) or (initial, (lo, hi), "
                    f"'log'|'identity'); got {spec!r}."
                )
            transform = spec[2] if len(spec) == 3 else "identity"
            self.register_hyperparameter(name, spec[0], bounds=spec[1], transform=transform)

    def __call__(self, X: torch.Tensor) -> torch.Tensor:
        params = {
            n: hp.value if hp.size > 1 else hp.value[0] for n, hp in self._hyperparameters.items()
        }
        out = self.fn(X, params)
        if out.shape != (X.shape[0],):
            raise ShapeError(
                f"User mean {getattr(self.fn, '__name__', self.fn)!r} returned shape "
                f"{tuple(out.shape)}; it must return ({X.shape[0]},)."
            )
        return out


_MEANS: dict[str, Callable[[], Mean]] = {"zero": ZeroMean, "constant": ConstantMean}


def make_mean(name: str) -> Mean:
    """Build a mean by name: ``"zero"`` or ``"constant"``."""
    if name not in _MEANS:
        raise UnknownNameError(
            f"Unknown mean {name!r}; choose one of {sorted(_MEANS)} or pass a Mean."
        )
    return _MEANS[name]()
