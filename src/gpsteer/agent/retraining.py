"""When the agent retrains its hyperparameters.

A user who only calls ``tell`` and ``ask`` should get a well-trained model: by default
the agent retrains at geometrically growing data sizes (8, 12, 18, 27, ... points),
warm-started from the current hyperparameters, so training costs a constant fraction
of the data-collection time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from gpsteer.errors import ConfigurationError, InputError, UnknownNameError

__all__ = ["TrainingSchedule", "make_schedule"]


@dataclass(frozen=True)
class TrainingSchedule:
    """Retrain when the data reaches ``first`` points, then each time it grows by ``factor``.

    ``n_starts`` optimizer starts for the first training; later ones use
    ``n_starts_warm`` (the current values plus random starts), ``max_iter`` iterations each.
    """

    first: int = 8
    factor: float = 1.5
    n_starts: int = 4
    n_starts_warm: int = 2
    max_iter: int = 200

    def __post_init__(self) -> None:
        if self.first < 1:
            raise InputError(f"TrainingSchedule.first must be >= 1; got {self.first}.")
        if not (math.isfinite(self.factor) and self.factor > 1):
            raise InputError(f"TrainingSchedule.factor must be > 1; got {self.factor}.")
        if self.n_starts < 1 or self.n_starts_warm < 1 or self.max_iter < 1:
            raise InputError("TrainingSchedule needs n_starts, n_starts_warm, max_iter >= 1.")

    def due(self, n: int, last_trained_n: int | None) -> bool:
        """Whether ``n`` points call for training, given the size at the last training."""
        if last_trained_n is None:
            return n >= self.first
        return n >= max(last_trained_n + 1, math.ceil(last_trained_n * self.factor))

    def starts(self, last_trained_n: int | None) -> int:
        return self.n_starts if last_trained_n is None else self.n_starts_warm

    def configuration(self) -> dict[str, Any]:
        return asdict(self)


def make_schedule(
    spec: str | TrainingSchedule | Mapping[str, Any] | None,
) -> TrainingSchedule | None:
    """``"geometric"`` (default settings), ``"never"``/``None`` (train only on request), an
    object, or its configuration mapping."""
    if spec is None or spec == "never":
        return None
    if spec == "geometric":
        return TrainingSchedule()
    if isinstance(spec, TrainingSchedule):
        return spec
    if isinstance(spec, Mapping):
        try:
            return TrainingSchedule(**spec)
        except TypeError as exc:
            raise ConfigurationError(f"Bad train_schedule {dict(spec)}: {exc}") from None
    if isinstance(spec, str):
        raise UnknownNameError(
            f"Unknown train_schedule {spec!r}; use 'geometric', 'never' or TrainingSchedule(...)."
        )
    raise InputError(f"train_schedule must be a name or a TrainingSchedule; got {spec!r}.")
