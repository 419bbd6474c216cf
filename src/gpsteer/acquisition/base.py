"""What every acquisition function is: a scorer bound to a model, maximized.

An :class:`Acquisition` is bound to a model with :meth:`Acquisition.bind`, which
precomputes what does not depend on the query points (incumbent, thresholds in model
units, noise level) and returns a :data:`Scorer` ``X (m, d) tensor -> (m,) tensor``
that autograd can differentiate with respect to ``X``. Also the pieces several
acquisitions share: the posterior standard deviation with a gradient-safe floor, the
noise of one new measurement, and the information a batch brings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from gpsteer.gp.model import GaussianProcess

__all__ = [
    "Acquisition",
    "AcquisitionContext",
    "ExplainedScorer",
    "Scorer",
    "joint_information",
    "measurement_noise",
    "posterior_std",
]

Scorer = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class ExplainedScorer:
    """A scorer that says why its best point was chosen, and how far to polish it.

    ``reason`` and ``terms(X)`` (a JSON-able dict at one point) go into the decision's
    record; ``polish=False`` keeps the best candidate as it is, ``polish_iter`` caps the
    gradient polish of the optimiser. ``near(starts)``, when given, is a cheaper scorer
    that is accurate near the polish's start points: the polish runs on it, and the
    optimiser keeps its result only if ``score`` agrees that it is better.
    """

    score: Scorer
    reason: str
    terms: Callable[[torch.Tensor], dict[str, float]]
    polish: bool = True
    polish_iter: int | None = None
    near: Callable[[np.ndarray], Scorer] | None = None

    def __call__(self, X: torch.Tensor) -> torch.Tensor:
        return self.score(X)


def _identity(value: float) -> float:
    return value


@dataclass(frozen=True)
class AcquisitionContext:
    """What an acquisition needs besides the model.

    ``to_model`` maps a value in the user's output units to the model's (the agent's
    output transform, e.g. ``log``), so thresholds given by users mean what they say.
    """

    to_model: Callable[[float], float] = _identity


def posterior_std(variance: torch.Tensor, gp: GaussianProcess) -> torch.Tensor:
    """``sqrt(variance)`` with a floor that keeps the gradient finite at measured points
    (the variance is ~0 there)."""
    return variance.clamp_min(1e-20 * gp.y_scale**2).sqrt()


def measurement_noise(gp: GaussianProcess) -> float:
    """Noise variance of one new measurement, in the model's output units.

    The learned noise (homoscedastic variance or floor), plus the median of measured
    variances when the data came with them; floored at ``1e-8`` of the data variance.
    """
    x0 = gp.X[:1]
    total = float(gp.predict(x0, include_noise=True).variance[0] - gp.predict(x0).variance[0])
    measured = gp.noise_variance
    if measured is not None and measured.size:
        total += float(np.median(measured))
    return max(total, 1e-8 * gp.y_scale**2)


def joint_information(gp: GaussianProcess, X: torch.Tensor, noise: float | None = None) -> Any:
    """Mutual information (nats) between the field and noisy measurements at the set ``X``.

    ``0.5 * log det(I + Sigma / noise)`` with ``Sigma`` the joint posterior covariance of
    ``X`` ``(n, d)``: the information a whole batch brings, redundancy included.
    Differentiable in ``X``.
    """
    noise = measurement_noise(gp) if noise is None else noise
    cov = gp.posterior(X, full_cov=True).covariance
    eye = torch.eye(cov.shape[0], dtype=cov.dtype, device=cov.device)
    L = torch.linalg.cholesky(eye + cov / noise)
    return torch.log(L.diagonal()).sum()


class Acquisition:
    """Base class: subclasses set :attr:`name` and implement :meth:`bind`.

    Attributes
    ----------
    name
        Lowercase identifier, used in configurations and stored runs.
    direction
        ``"maximize"`` or ``"minimize"`` for optimizing acquisitions (what "best" means),
        ``None`` for mapping acquisitions.
    nonnegative
        ``True`` when values are >= 0, so a value per unit time is meaningful as is.
    """

    name: ClassVar[str] = ""
    direction: str | None = None
    nonnegative: ClassVar[bool] = True
    #: Greedy selection is exact for the joint criterion (chain rule of information).
    joint: ClassVar[bool] = False

    def bind(self, gp: GaussianProcess, context: AcquisitionContext) -> Scorer:
        """A scorer for ``gp``: ``X (m, d) -> (m,)`` values, differentiable in ``X``."""
        raise NotImplementedError

    def options(self) -> dict[str, Any]:
        """The constructor arguments, JSON-able (so a configuration can rebuild this)."""
        return {}

    def configuration(self) -> dict[str, Any]:
        return {"name": self.name, **self.options()}

    def __call__(
        self, gp: GaussianProcess, X: torch.Tensor, context: AcquisitionContext | None = None
    ) -> torch.Tensor:
        return self.bind(gp, context or AcquisitionContext())(X)

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options().items())
        return f"{type(self).__name__}({opts})"
