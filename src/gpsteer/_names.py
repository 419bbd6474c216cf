"""Module attributes found elsewhere: names loaded on first use, and names that moved.

* :func:`lazy_names`: a package exports names from its submodules without importing
  them (and torch, ophyd...) until one is used: ``__getattr__, __dir__ = lazy_names(...)``.
* :func:`moved_names`, :func:`moved_module`: old import paths kept for one release; a
  moved name still imports, with a DeprecationWarning that gives the new path.
"""

from __future__ import annotations

import importlib
import sys
import types
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

__all__ = ["lazy_names", "moved_module", "moved_names", "names_of"]


def names_of(module: str, names: Iterable[str]) -> dict[str, str]:
    """``{name: module}`` for each of ``names`` (the argument :func:`moved_names` takes)."""
    return dict.fromkeys(names, module)


def lazy_names(
    package: str, names: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``: each of ``names`` (``{name:
    module}``) is imported from its module on first use and then kept."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(names))

    return __getattr__, __dir__


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


class _EveryNameOf(Mapping[str, str]):
    """``{name: module}`` for every public name of ``module`` (imported on first lookup)."""

    def __init__(self, module: str) -> None:
        self.module = module

    def _names(self) -> list[str]:
        target = importlib.import_module(self.module)
        return [n for n in getattr(target, "__all__", dir(target)) if not n.startswith("_")]

    def __getitem__(self, name: str) -> str:
        if name.startswith("_") or not hasattr(importlib.import_module(self.module), name):
            raise KeyError(name)
        return self.module

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())


def moved_module(old: str, new: str) -> None:
    """Make ``import old`` work: a module whose every public name forwards to ``new``.

    Call it from the old module's package ``__init__``; Python finds the registered
    module once the package is imported, so no file is left at the old path.
    """
    if old not in sys.modules:
        module = types.ModuleType(old, f"Moved to :mod:`{new}` (old path, one release).")
        module.__getattr__ = moved_names(old, _EveryNameOf(new))  # type: ignore[method-assign]
        sys.modules[old] = module
