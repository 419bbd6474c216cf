"""Named, bounded hyperparameters and the module tree that holds them.

A hyperparameter is stored as an unconstrained ``raw`` tensor (``log`` of the value
for positive quantities), so optimizers work in a space where the constraint cannot
be violated; its bounds are box bounds on ``raw``. Kernels, means and noise models
are :class:`Module` objects that register hyperparameters by name and nest, so a
composite kernel reports ``"k1.lengthscale"``, ``"k2.period"``, ...
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import torch

from gpsteer.errors import InputError, ShapeError, UnknownNameError

__all__ = [
    "GammaPrior",
    "Hyperparameter",
    "LogNormalPrior",
    "Module",
    "NormalPrior",
    "Prior",
]

_TRANSFORMS = ("log", "identity")


class Prior(Protocol):
    """A prior on a hyperparameter's (constrained) value: ``log_prob(value) -> tensor``."""

    def log_prob(self, value: torch.Tensor) -> torch.Tensor: ...


@dataclass(frozen=True)
class NormalPrior:
    """Gaussian prior on the value."""

    loc: float
    scale: float

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        z = (value - self.loc) / self.scale
        return (-0.5 * z**2 - math.log(self.scale * math.sqrt(2 * math.pi))).sum()


@dataclass(frozen=True)
class LogNormalPrior:
    """Log-normal prior: ``log(value) ~ N(loc, scale)``; natural for length scales."""

    loc: float
    scale: float

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        logv = torch.log(value)
        z = (logv - self.loc) / self.scale
        return (-0.5 * z**2 - logv - math.log(self.scale * math.sqrt(2 * math.pi))).sum()


@dataclass(frozen=True)
class GammaPrior:
    """Gamma(concentration, rate) prior on a positive value."""

    concentration: float
    rate: float

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        a, b = self.concentration, self.rate
        return (a * math.log(b) - math.lgamma(a) + (a - 1) * torch.log(value) - b * value).sum()


@dataclass
class Hyperparameter:
    """One named hyperparameter: raw tensor, transform, bounds on the value, prior.

    ``bounds`` are on the constrained value; ``raw_bounds`` are what an optimizer sees.
    """

    name: str
    raw: torch.Tensor
    transform: str = "log"
    bounds: tuple[float, float] = (1e-6, 1e6)
    prior: Prior | None = None
    fixed: bool = False
    doc: str = field(default="", compare=False)
    #: Range of typical values, where multi-start training draws its starting points.
    start_bounds: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.transform not in _TRANSFORMS:
            raise UnknownNameError(
                f"Unknown transform {self.transform!r} for hyperparameter {self.name!r}; "
                f"use one of {_TRANSFORMS}."
            )
        lo, hi = (float(b) for b in self.bounds)
        if not lo < hi:
            raise InputError(
                f"Bounds of hyperparameter {self.name!r} must satisfy lo < hi; got {self.bounds}."
            )
        if self.transform == "log" and lo <= 0:
            raise InputError(
                f"Hyperparameter {self.name!r} is positive (log transform): its lower bound "
                f"must be > 0, got {lo}."
            )
        self.bounds = (lo, hi)
        if self.start_bounds is None:
            self.start_bounds = self.bounds
        else:
            slo, shi = (float(b) for b in self.start_bounds)
            slo, shi = max(lo, slo), min(hi, shi)
            # Typical values that lie outside the allowed range: start anywhere in the range.
            self.start_bounds = (slo, shi) if slo < shi else self.bounds

    @property
    def raw_start_bounds(self) -> tuple[float, float]:
        lo, hi = self.start_bounds
        if self.transform == "log":
            return math.log(lo), math.log(hi)
        return lo, hi

    @property
    def size(self) -> int:
        return int(self.raw.numel())

    @property
    def value(self) -> torch.Tensor:
        """The constrained value (same shape as ``raw``)."""
        return torch.exp(self.raw) if self.transform == "log" else self.raw

    @property
    def raw_bounds(self) -> tuple[float, float]:
        lo, hi = self.bounds
        if self.transform == "log":
            return math.log(lo), math.log(hi)
        return lo, hi

    def to_raw(self, value: torch.Tensor | float | Sequence[float]) -> torch.Tensor:
        v = torch.as_tensor(value, dtype=self.raw.dtype, device=self.raw.device)
        if v.ndim == 0:
            v = v.expand(self.raw.shape)
        if v.shape != self.raw.shape:
            raise ShapeError(
                f"Hyperparameter {self.name!r} holds {self.size} value(s); got shape "
                f"{tuple(v.shape)}. Pass a scalar or {self.size} values."
            )
        if not torch.isfinite(v).all():
            raise InputError(f"Hyperparameter {self.name!r} must be finite; got {v.tolist()}.")
        if self.transform == "log":
            if (v <= 0).any():
                raise InputError(f"Hyperparameter {self.name!r} must be > 0; got {v.tolist()}.")
            return torch.log(v)
        return v.clone()

    def set_value(self, value: torch.Tensor | float | Sequence[float]) -> None:
        """Set the value, clipped to the bounds (a value outside them is an error)."""
        raw = self.to_raw(value)
        lo, hi = self.raw_bounds
        tol = 1e-9 * max(1.0, abs(lo), abs(hi))
        if (raw < lo - tol).any() or (raw > hi + tol).any():
            raise InputError(
                f"Value {self.value_from_raw(raw).tolist()} of hyperparameter {self.name!r} lies "
                f"outside its bounds {self.bounds}; widen the bounds or choose another value."
            )
        self.raw = raw.clamp(lo, hi)

    def value_from_raw(self, raw: torch.Tensor) -> torch.Tensor:
        return torch.exp(raw) if self.transform == "log" else raw


class Module:
    """Base of kernels, means and noise models: a tree of named hyperparameters."""

    def __init__(self) -> None:
        self._hyperparameters: dict[str, Hyperparameter] = {}
        self._children: dict[str, Module] = {}

    # -- registration -------------------------------------------------------------
    def register_hyperparameter(
        self,
        name: str,
        value: float | Sequence[float] | torch.Tensor,
        *,
        bounds: tuple[float, float],
        transform: str = "log",
        prior: Prior | None = None,
        fixed: bool = False,
        like: torch.Tensor | None = None,
        start_bounds: tuple[float, float] | None = None,
        doc: str = "",
    ) -> Hyperparameter:
        """Add a hyperparameter; ``like`` gives the device and dtype (default CPU float64)."""
        device = like.device if like is not None else None
        dtype = like.dtype if like is not None else torch.float64
        v = torch.as_tensor(value, dtype=dtype, device=device).reshape(-1)
        hp = Hyperparameter(
            name=name,
            raw=torch.zeros_like(v),
            transform=transform,
            bounds=bounds,
            prior=prior,
            fixed=fixed,
            doc=doc,
            start_bounds=start_bounds,
        )
        lo, hi = hp.bounds
        hp.raw = hp.to_raw(v.clamp(lo, hi))
        self._hyperparameters[name] = hp
        return hp

    def register_child(self, name: str, module: Module) -> None:
        self._children[name] = module

    # -- access -------------------------------------------------------------------
    def named_hyperparameters(self, prefix: str = "") -> Iterator[tuple[str, Hyperparameter]]:
        """All hyperparameters of this module and its children, in a stable order."""
        for name, hp in self._hyperparameters.items():
            yield prefix + name, hp
        for cname, child in self._children.items():
            yield from child.named_hyperparameters(prefix + cname + ".")

    def hyperparameter(self, name: str) -> Hyperparameter:
        table = dict(self.named_hyperparameters())
        if name not in table:
            raise UnknownNameError(
                f"No hyperparameter named {name!r}; known: {sorted(table) or 'none'}."
            )
        return table[name]

    def hyperparameter_values(self) -> dict[str, list[float]]:
        """``{name: value list}``, JSON-able, for logs and provenance."""
        return {
            n: hp.value.detach().cpu().reshape(-1).tolist()
            for n, hp in self.named_hyperparameters()
        }

    def _value(self, name: str) -> torch.Tensor:
        return self._hyperparameters[name].value

    def to(self, device: torch.device | str, dtype: torch.dtype = torch.float64) -> Module:
        for _, hp in self.named_hyperparameters():
            hp.raw = hp.raw.detach().to(device=device, dtype=dtype)
        return self

    def bind(self, X: torch.Tensor, y: torch.Tensor | None = None) -> None:
        """Finish construction once the data's shape and scale are known (dimension, init).

        Called by the model before the first use; idempotent.
        """
        for child in self._children.values():
            child.bind(X, y)
