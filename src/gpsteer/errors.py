"""The exceptions and warnings gpsteer raises.

One base class, :class:`GpsteerError`; each subclass also inherits the built-in
exception it resembles, so ``except ValueError`` keeps working for callers who do
not know gpsteer. Every message says what to change.
"""

from __future__ import annotations

__all__ = [
    "CatalogError",
    "ConfigurationError",
    "DeviceError",
    "GpsteerError",
    "GpsteerWarning",
    "InputError",
    "NotFittedError",
    "NumericalError",
    "NumericalWarning",
    "OptimizationWarning",
    "RejectedReadingError",
    "ShapeError",
    "TrainingError",
    "TrainingWarning",
    "UnknownNameError",
]


class GpsteerError(Exception):
    """Base class of every error gpsteer raises on purpose."""


class InputError(GpsteerError, ValueError):
    """An argument has a value gpsteer cannot use (NaN, out of bounds, lo >= hi...)."""


class ShapeError(InputError):
    """An array has the wrong shape or dimension."""


class UnknownNameError(InputError, KeyError):
    """A name (kernel, acquisition function, field, hyperparameter) is not known.

    The message lists the names that are known.
    """

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class RejectedReadingError(InputError):
    """One reading must not reach the model (a saturated detector, a beam dump...).

    Raise it from a plan's target reduction with the reason; the plan records the
    rejection in the run's ``agent`` stream and goes on. Any other exception a
    reduction raises stops the run.
    """


class ConfigurationError(GpsteerError, ValueError):
    """Options that cannot work together, or a setting gpsteer cannot honour."""


class NotFittedError(GpsteerError, RuntimeError):
    """The model has no data yet; tell it some measurements first."""


class NumericalError(GpsteerError, ArithmeticError):
    """A linear-algebra step failed even after the usual remedies (jitter)."""


class TrainingError(GpsteerError, RuntimeError):
    """Hyperparameter training could not run (e.g. the Dask scheduler is unreachable)."""


class DeviceError(GpsteerError, RuntimeError):
    """A beamline device (motor, detector, IOC) did not respond as expected."""


class CatalogError(GpsteerError, OSError):
    """The run catalog cannot be opened or written."""


class GpsteerWarning(UserWarning):
    """Base class of the warnings gpsteer issues."""


class NumericalWarning(GpsteerWarning):
    """A numerical remedy was applied (jitter added, a point rejected)."""


class OptimizationWarning(GpsteerWarning):
    """An optimizer did not converge; the best point found so far was used."""


class TrainingWarning(GpsteerWarning):
    """Training fell back to another path (e.g. inline after a Dask failure)."""
