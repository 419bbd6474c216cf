"""Acquisition functions: how much a measurement at ``x`` is worth, differentiable in torch.

Every acquisition is *maximized* (the interface: :mod:`gpsteer.acquisition.base`).
This module holds the acquisitions users choose by name, their registry
(:data:`ACQUISITIONS`) and :func:`make_acquisition`.

Values are in the model's output units (after the agent's output transform, e.g. the
log of an intensity).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import torch

from gpsteer.acquisition.base import (
    Acquisition,
    AcquisitionContext,
    Scorer,
    joint_information,
    measurement_noise,
    posterior_std,
)
from gpsteer.acquisition.mapping import MapUncertainty
from gpsteer.errors import ConfigurationError, InputError, ShapeError, UnknownNameError
from gpsteer.gp.model import GaussianProcess, Posterior

__all__ = [
    "ACQUISITIONS",
    "Acquisition",
    "AcquisitionContext",
    "Boundary",
    "CallableAcquisition",
    "ExpectedImprovement",
    "Gradient",
    "LowerConfidenceBound",
    "MapUncertainty",
    "MutualInformation",
    "PosteriorVariance",
    "ProbabilityOfImprovement",
    "Scorer",
    "Target",
    "UpperConfidenceBound",
    "joint_information",
    "make_acquisition",
    "measurement_noise",
]

_SQRT_2PI = math.sqrt(2.0 * math.pi)


def _normal_cdf(z: torch.Tensor) -> torch.Tensor:
    return torch.special.ndtr(z)


def _normal_pdf(z: torch.Tensor) -> torch.Tensor:
    return torch.exp(-0.5 * z * z) / _SQRT_2PI


class PosteriorVariance(Acquisition):
    """``variance``: measure where the posterior variance is largest (the map least known).

    It scores the posterior standard deviation: the same choice, with values in the
    field's units (what the ``agent`` stream records as ``acquisition_value``).
    """

    name = "variance"

    def bind(self, gp: GaussianProcess, context: AcquisitionContext) -> Scorer:
        return lambda X: posterior_std(gp.posterior(X).variance, gp)


class UpperConfidenceBound(Acquisition):
    """``ucb``: ``mean + beta * std``; find maxima, exploring more for larger ``beta``."""

    name = "ucb"
    direction = "maximize"
    nonnegative = False

    def __init__(self, beta: float = 2.0) -> None:
        if not (math.isfinite(beta) and beta >= 0):
            raise InputError(f"beta must be finite and >= 0; got {beta}.")
        self.beta = float(beta)

    def options(self) -> dict[str, Any]:
        return {"beta": self.beta}

    def bind(self, gp: GaussianProcess, context: AcquisitionContext) -> Scorer:
        def score(X: torch.Tensor) -> torch.Tensor:
            post = gp.posterior(X)
            return post.mean + self.beta * posterior_std(post.variance, gp)

        return score


class LowerConfidenceBound(UpperConfidenceBound):
    """``lcb``: find minima; the value is ``beta * std - mean`` (maximized, like all others)."""

    name = "lcb"
    direction = "minimize"

    def bind(self, gp: GaussianProcess, context: AcquisitionContext) -> Scorer:
        def score(X: torch.Tensor) -> torch.Tensor:
            post = gp.posterior(X)
            return self.beta * posterior_std(post.variance, gp) - post.mean

        return score


class _Improvement(Acquisition):
    """Shared parts of EI and PI: direction, margin ``xi`` and incumbent ``best_f``.

    ``best_f`` (user units) defaults to the best measured value, so results do not depend
    on hidden state.
    """

    def __init__(self, maximize: bool = True, xi: float = 0.0, best_f: float | None = None) -> None:
        if not isinstance(maximize, bool):
            raise InputError(f"maximize must be True or False; got {maximize!r}.")
        if not (math.isfinite(xi) and xi >= 0):
            raise InputError(f"xi must be finite and >= 0; got {xi}.")
        if best_f is not None and not math.isfinite(best_f):
            raise InputError(f"best_f must be finite; got {best_f}.")
        self.maximize = maximize
        self.direction = "maximize" if maximize else "minimize"
        self.xi = float(xi)
        self.best_f = None if best_f is None else float(best_f)

    def options(self) -> dict[str, Any]:
        return {"maximize": self.maximize, "xi": self.xi, "best_f": self.best_f}

    def _improvement(
        self, gp: GaussianProcess, context: AcquisitionContext
    ) -> Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
        y = gp.y
        if self.best_f is not None:
            best = context.to_model(self.best_f)
        else:
            best = float(y.max() if self.maximize else y.min())
        sign = 1.0 if self.maximize else -1.0

        def improvement(X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            post = gp.posterior(X)
            return sign * (post.mean - best) - self.xi, posterior_std(post.variance, gp)

        return improvement


class ExpectedImprovement(_Improvement):
    """``ei``: expected improvement over the incumbent in the given direction."""

    name = "ei"

    def bind(self, gp: GaussianProcess, context: AcquisitionContext) -> Scorer:
        improvement = self._improvement(gp, context)

        def score(X: torch.Tensor) -> torch.Tensor:
            imp, std = improvement(X)
            z = imp / std
            return imp * _normal_cdf(z) + std * _normal_pdf(z)

        return score


class ProbabilityOfImprovement(_Improvement):
    """``pi``: probability of beating the incumbent by at least ``xi``."""

    name = "pi"

    def bind(self, gp: GaussianProcess, context: AcquisitionContext) -> Scorer:
        improvement = self._improvement(gp, context)

        def score(X: torch.Tensor) -> torch.Tensor:
            imp, std = improvement(X)
            return _normal_cdf(imp / std)

        return score


class Target(Acquisition):
    """``target``: probability that the field lies in ``[lo, hi]`` (user units).

    Maps a region of interest, e.g. where a peak position lies in a given window.
    """

    name = "target"

    def __init__(self, lo: float, hi: float) -> None:
        lo, hi = float(lo), float(hi)
        if not lo < hi:
            raise InputError(f"target needs lo < hi; got lo={lo}, hi={hi}.")
        self.lo, self.hi = lo, hi

    def options(self) -> dict[str, Any]:
        return {"lo": self.lo, "hi": self.hi}

    def bind(self, gp: GaussianProcess, context: AcquisitionContext) -> Scorer:
        lo, hi = context.to_model(self.lo), context.to_model(self.hi)

        def score(X: torch.Tensor) -> torch.Tensor:
            post = gp.posterior(X)
            std = posterior_std(post.variance, gp)
            return _normal_cdf((hi - post.mean) / std) - _normal_cdf((lo - post.mean) / std)

        return score


def _slope_and_posterior(
    gp: GaussianProcess, X: torch.Tensor, width: torch.Tensor, tiny: float
) -> tuple[torch.Tensor, Any]:
    """``|grad mean|`` in unit-box coordinates at ``X``, and the posterior there.

    Differentiable in ``X`` when ``X`` requires grad (the optimizer's polish).
    """
    outer_grad = X.requires_grad
    with torch.enable_grad():
        Xg = X if outer_grad else X.detach().requires_grad_(True)
        post = gp.posterior(Xg)
        (g,) = torch.autograd.grad(post.mean.sum(), Xg, create_graph=outer_grad)
    slope = ((g * width) ** 2).sum(-1).clamp_min(tiny).sqrt()
    return slope, post


def _unit_widths(gp: GaussianProcess) -> torch.Tensor:
    bounds = gp.input_bounds
    return torch.as_tensor(bounds[:, 1] - bounds[:, 0], dtype=gp.dtype, device=gp.device)


class Gradient(Acquisition):
    """``gradient``: ``|grad mean| * std``: boundaries (fast change) not yet pinned down.

    The gradient is taken in unit-box coordinates, so axes in different units weigh
    equally. On its own it starves smooth regions of points; ``boundary`` mixes it with
    coverage.
    """

    name = "gradient"

    def bind(self, gp: GaussianProcess, context: AcquisitionContext) -> Scorer:
        width, tiny = _unit_widths(gp), 1e-30 * gp.y_scale**2

        def score(X: torch.Tensor) -> torch.Tensor:
            slope, post = _slope_and_posterior(gp, X, width, tiny)
            var = post.variance if X.requires_grad else post.variance.detach()
            return slope * posterior_std(var, gp)

        return score


class Boundary(Acquisition):
    """``boundary``: ``std * (1 + weight * |grad mean| / typical slope)``: cover, and pin edges.

    Why: ``variance`` spreads points evenly, so a sharp boundary gets no more than its
    share of the area, while ``gradient`` piles points on boundaries and leaves the rest
    unmeasured. This measures where the map is unknown, more so where it changes fast.
    The typical slope is the root-mean-square ``|grad mean|`` at the measured points,
    so ``weight`` is unit-free: 0 is ``variance``; at the default 1 a point on a slope
    ten times the typical one counts as eleven times as uncertain.
    """

    name = "boundary"

    def __init__(self, weight: float = 1.0) -> None:
        if not (math.isfinite(weight) and weight >= 0):
            raise InputError(f"boundary weight must be finite and >= 0; got {weight!r}.")
        self.weight = float(weight)

    def options(self) -> dict[str, Any]:
        return {"weight": self.weight}

    def bind(self, gp: GaussianProcess, context: AcquisitionContext) -> Scorer:
        width, tiny = _unit_widths(gp), 1e-30 * gp.y_scale**2
        measured = torch.as_tensor(gp.X, dtype=gp.dtype, device=gp.device)
        slopes, _ = _slope_and_posterior(gp, measured, width, tiny)
        typical = slopes.detach().pow(2).mean().sqrt().clamp_min(math.sqrt(tiny))

        def score(X: torch.Tensor) -> torch.Tensor:
            slope, post = _slope_and_posterior(gp, X, width, tiny)
            var = post.variance if X.requires_grad else post.variance.detach()
            return posterior_std(var, gp) * (1.0 + self.weight * slope / typical)

        return score


class MutualInformation(Acquisition):
    """``mutual_information``: information a measurement brings, ``0.5 log(1 + var / noise)``.

    For a batch, greedy selection on the model conditioned on the points already chosen
    sums these gains to the batch's joint information ``0.5 log det(I + Sigma / noise)``
    (:func:`joint_information`), so redundant points are avoided.
    """

    name = "mutual_information"
    joint = True

    def bind(self, gp: GaussianProcess, context: AcquisitionContext) -> Scorer:
        noise = measurement_noise(gp)
        return lambda X: 0.5 * torch.log1p(gp.posterior(X).variance / noise)


_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


class CallableAcquisition(Acquisition):
    """A user function ``fn(X, posterior) -> (m,)`` tensor, maximized.

    ``posterior`` holds torch tensors ``mean`` and ``variance`` at ``X`` (model units);
    write ``fn`` with torch operations so gradients flow.
    """

    nonnegative = False

    def __init__(
        self,
        fn: Callable[[torch.Tensor, Posterior], torch.Tensor],
        name: str | None = None,
        *,
        nonnegative: bool = False,
    ) -> None:
        if not callable(fn):
            raise InputError(f"An acquisition must be a name or a callable; got {fn!r}.")
        name = name if name is not None else getattr(fn, "__name__", "custom").lower()
        if not _IDENTIFIER.match(name):
            name = "custom"
        self.fn = fn
        self.name = name  # type: ignore[misc]
        self.nonnegative = nonnegative  # type: ignore[misc]

    def configuration(self) -> dict[str, Any]:
        return {"name": self.name, "callable": True}

    def bind(self, gp: GaussianProcess, context: AcquisitionContext) -> Scorer:
        def score(X: torch.Tensor) -> torch.Tensor:
            out = self.fn(X, gp.posterior(X))
            if not torch.is_tensor(out) or out.shape != (X.shape[0],):
                raise ShapeError(
                    f"Acquisition {self.name!r} must return a torch tensor of shape "
                    f"({X.shape[0]},); got {getattr(out, 'shape', type(out).__name__)}."
                )
            return out

        return score


#: Built-in acquisitions by name; ``target`` needs bounds, so build it as ``Target(lo, hi)``.
ACQUISITIONS: dict[str, type[Acquisition]] = {
    cls.name: cls
    for cls in (
        MapUncertainty,
        PosteriorVariance,
        UpperConfidenceBound,
        LowerConfidenceBound,
        ExpectedImprovement,
        ProbabilityOfImprovement,
        Target,
        Gradient,
        Boundary,
        MutualInformation,
    )
}


def make_acquisition(
    spec: str | Acquisition | Mapping[str, Any] | Callable[..., torch.Tensor],
) -> Acquisition:
    """An :class:`Acquisition` from a name, a configuration mapping, an object or a callable.

    ``"ucb"`` uses default options; ``{"name": "ucb", "beta": 3.0}`` (what
    :meth:`Acquisition.configuration` returns) or ``UpperConfidenceBound(beta=3.0)`` sets them.
    """
    if isinstance(spec, Acquisition):
        return spec
    if isinstance(spec, str):
        name, options = spec, {}
    elif isinstance(spec, Mapping):
        options = dict(spec)
        name = options.pop("name", None)
        if options.pop("callable", False):
            raise ConfigurationError(
                f"Acquisition {name!r} was a user callable, which a configuration cannot hold; "
                "pass the callable again (acquisition=...)."
            )
    elif callable(spec):
        return CallableAcquisition(spec)
    else:
        raise InputError(
            f"acquisition must be a name, an Acquisition, a mapping or a callable; got "
            f"{type(spec).__name__}."
        )
    if name not in ACQUISITIONS:
        raise UnknownNameError(
            f"Unknown acquisition {name!r}; choose one of {sorted(ACQUISITIONS)}, or pass an "
            "Acquisition object or a callable fn(X, posterior)."
        )
    try:
        return ACQUISITIONS[name](**options)
    except TypeError as exc:
        raise ConfigurationError(
            f"Acquisition {name!r} cannot take options {options}: {exc}. For 'target', use "
            "Target(lo=..., hi=...) or {'name': 'target', 'lo': ..., 'hi': ...}."
        ) from None
