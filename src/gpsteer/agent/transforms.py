"""Output transforms: what the GP models, given what the instrument measures.

Intensities are positive and vary over decades; a GP on ``log(y)`` respects both and
makes its uncertainty relative. Predictions are mapped back to the user's units.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from gpsteer.errors import InputError, UnknownNameError

__all__ = ["IdentityTransform", "LogTransform", "OutputTransform", "make_output_transform"]


class OutputTransform:
    """Maps measured values (and their variances) to model units, and predictions back."""

    name: ClassVar[str] = ""

    def check(self, y: np.ndarray) -> None:
        """Raise :class:`InputError` for values this transform cannot take."""

    def forward(self, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def forward_variance(self, y: np.ndarray, variance: np.ndarray) -> np.ndarray:
        """Variance of the transformed value (first order)."""
        raise NotImplementedError

    def inverse_moments(
        self, mean: np.ndarray, variance: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mean and variance in user units of a Gaussian ``(mean, variance)`` in model units."""
        raise NotImplementedError

    def to_model(self, value: float) -> float:
        """One threshold in user units, in model units (for ``target`` and ``best_f``)."""
        return float(self.forward(np.array([value]))[0])

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class IdentityTransform(OutputTransform):
    """Model the values as measured."""

    name = "identity"

    def forward(self, y: np.ndarray) -> np.ndarray:
        return y

    def forward_variance(self, y: np.ndarray, variance: np.ndarray) -> np.ndarray:
        return variance

    def inverse_moments(
        self, mean: np.ndarray, variance: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        return mean, variance


class LogTransform(OutputTransform):
    """Model ``log(y)`` for positive intensities; predictions are log-normal moments."""

    name = "log"

    def check(self, y: np.ndarray) -> None:
        if (y <= 0).any():
            raise InputError(
                f"output_transform='log' needs positive values; got {int((y <= 0).sum())} "
                f"value(s) <= 0 (smallest {float(y.min())}). Offset or drop non-positive readings "
                "(e.g. after background subtraction), or use output_transform='identity'."
            )

    def forward(self, y: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(y)

    def forward_variance(self, y: np.ndarray, variance: np.ndarray) -> np.ndarray:
        # The variance of log(y) for a log-normal y with this mean and variance,
        # log(1 + v / y^2): the delta method's v / y^2 for small relative noise, and
        # finite (no 0/0 from an underflowing y^2) for noise far larger than y.
        with np.errstate(divide="ignore"):
            log_ratio = np.log(variance) - 2.0 * np.log(y)
        return np.logaddexp(0.0, log_ratio)

    def inverse_moments(
        self, mean: np.ndarray, variance: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        m = np.exp(mean + 0.5 * variance)
        return m, np.expm1(variance) * m**2


_TRANSFORMS: dict[str, type[OutputTransform]] = {
    cls.name: cls for cls in (IdentityTransform, LogTransform)
}


def make_output_transform(spec: str | OutputTransform) -> OutputTransform:
    """An output transform from its name (``"identity"``, ``"log"``) or an object."""
    if isinstance(spec, OutputTransform):
        return spec
    if spec not in _TRANSFORMS:
        raise UnknownNameError(
            f"Unknown output_transform {spec!r}; choose one of {sorted(_TRANSFORMS)}."
        )
    return _TRANSFORMS[spec]()
