"""Noise models: the diagonal added to the kernel matrix, in standardised output units.

- :class:`HomoscedasticNoise`: one learned variance for every point.
- :class:`MeasuredNoise`: per-point variances the instrument reports (counting
  statistics), optionally plus a learned floor for what the instrument does not know.
"""

from __future__ import annotations

import torch

from gpsteer.errors import ConfigurationError, InputError
from gpsteer.gp.hyperparameters import Module, Prior

__all__ = ["HomoscedasticNoise", "MeasuredNoise", "NoiseModel", "default_noise"]


class NoiseModel(Module):
    """``diagonal(measured) -> (n,)`` noise variances; ``measured`` may be ``None``."""

    needs_measured = False

    def diagonal(self, measured: torch.Tensor | None, n: int, like: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class HomoscedasticNoise(NoiseModel):
    """One learned noise variance (standardised units: 0.01 means 1 % of the data variance)."""

    def __init__(
        self,
        variance: float = 1e-2,
        *,
        bounds: tuple[float, float] = (1e-8, 2.0),
        prior: Prior | None = None,
        fixed: bool = False,
    ) -> None:
        super().__init__()
        if variance <= 0:
            raise InputError(f"Noise variance must be > 0; got {variance}.")
        self.register_hyperparameter(
            "variance", variance, bounds=bounds, prior=prior, fixed=fixed, start_bounds=(1e-4, 0.2)
        )

    def diagonal(self, measured: torch.Tensor | None, n: int, like: torch.Tensor) -> torch.Tensor:
        if measured is not None:
            raise ConfigurationError(
                "HomoscedasticNoise learns one variance and cannot use measured per-point "
                "variances; use MeasuredNoise(learn_floor=True), or do not pass noise_variance."
            )
        return self._value("variance").expand(n)


class MeasuredNoise(NoiseModel):
    """The instrument's per-point variances, plus an optional learned floor.

    Parameters
    ----------
    learn_floor
        Add a trained variance floor (for noise the counting statistics miss). Without
        it a tiny fixed floor keeps the matrix well conditioned.
    """

    needs_measured = True

    def __init__(
        self,
        learn_floor: bool = True,
        floor: float = 1e-4,
        *,
        floor_bounds: tuple[float, float] = (1e-8, 2.0),
    ) -> None:
        super().__init__()
        self.register_hyperparameter(
            "floor",
            floor,
            bounds=floor_bounds,
            fixed=not learn_floor,
            doc="extra variance",
            start_bounds=(1e-6, 0.05),
        )

    def diagonal(self, measured: torch.Tensor | None, n: int, like: torch.Tensor) -> torch.Tensor:
        if measured is None:
            raise ConfigurationError(
                "MeasuredNoise needs per-point noise variances; pass noise_variance= with the "
                "data, or use HomoscedasticNoise."
            )
        return measured + self._value("floor")


def default_noise(has_measured: bool) -> NoiseModel:
    """Learned floor on measured variances when there are some, else homoscedastic."""
    return MeasuredNoise(learn_floor=True) if has_measured else HomoscedasticNoise()
