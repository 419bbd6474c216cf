"""Old import paths kept for one release: names that moved, found with a DeprecationWarning.

A module whose names moved sets ``__getattr__ = moved_names(__name__, {...})``; an
import of a moved name still works, and warns with the new path to use.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["moved_names", "names_of"]


def names_of(module: str, names: Iterable[str]) -> dict[str, str]:
    """``{name: module}`` for each of ``names`` (the argument :func:`moved_names` takes)."""
    return dict.fromkeys(names, module)


def moved_names(old: str, new: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``old`` that forwards each moved name to its new module."""

    def __getattr__(name: str) -> Any:
        target = new.get(name)
        if target is None:
            raise AttributeError(f"module {old!r} has no attribute {name!r}")
        warnings.warn(
            f"{old}.{name} has moved to {target}.{name}; import it from there "
            f"(the old path will be removed in the next release)",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(target), name)

    return __getattr__
