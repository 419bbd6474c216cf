"""Kernels invariant under a finite symmetry group of the sample (rotations, mirrors).

A field with a known symmetry (a six-fold diffraction pattern, a mirror-symmetric
device) is known everywhere on an orbit once it is measured at one point of it. The
kernel ``k_G(x, x') = |G|^-2 sum_{g,h} k(g x, h x')`` (the *double sum*) is positive
semi-definite and invariant under every ``g`` of a finite group ``G`` for any base
kernel ``k``. When ``k`` itself is invariant (``k(g x, g x') = k(x, x')``, e.g. an
isotropic stationary kernel and rotations), it equals the *single sum*
``|G|^-1 sum_g k(x, g x')``, which costs ``|G|`` times less.

Coordinates: a :class:`SymmetryGroup` is written in the user's units (rotation about a
centre in mm); the GP hands kernels unit-box coordinates ``u = (x - lo) / (hi - lo)``.
:class:`SymmetricKernel` therefore takes the GP's ``input_bounds`` and maps every
``x -> A x + b`` exactly to ``u -> W^-1 A W u + W^-1 (A lo + b - lo)``. A rotation stays
orthogonal in the unit box only when the rotated axes have equal widths; otherwise the
single sum does not hold for an isotropic base and the kernel uses the (exact, |G| times
slower) double sum. See docs/howto/domain_knowledge/symmetry.md.

Translations by a lattice vector generate an infinite group: use
:class:`~gpsteer.gp.kernels.lattice.LatticePeriodic` for them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from gpsteer.errors import ConfigurationError, InputError, ShapeError, UnknownNameError
from gpsteer.gp.kernels.base import Kernel

__all__ = ["SymmetricKernel", "SymmetryGroup", "base_invariance", "unit_box_maps"]

_METHODS = ("auto", "single", "double")
_TOL = 1e-9


def _as_maps(matrices: object, offsets: object | None) -> tuple[np.ndarray, np.ndarray]:
    A = np.asarray(matrices, dtype=np.float64)
    if A.ndim == 2:
        A = A[None]
    if A.ndim != 3 or A.shape[1] != A.shape[2] or A.shape[0] == 0:
        raise ShapeError(
            f"Group matrices must have shape (|G|, d, d); got {A.shape}. Pass one square "
            "matrix per group element."
        )
    b = np.zeros(A.shape[:2]) if offsets is None else np.asarray(offsets, dtype=np.float64)
    if b.ndim == 1:
        b = b[None]
    if b.shape != A.shape[:2]:
        raise ShapeError(f"Group offsets must have shape {A.shape[:2]}; got {b.shape}.")
    if not (np.isfinite(A).all() and np.isfinite(b).all()):
        raise InputError("Group matrices and offsets must be finite.")
    return A, b


class SymmetryGroup:
    """A finite group of affine maps ``x -> A x + b`` in the user's coordinates.

    Build one with :meth:`cyclic`, :meth:`dihedral`, :meth:`mirror`, :meth:`reflection`
    or :meth:`from_generators`; combine two with ``g1 * g2`` (the group they generate).
    The constructor checks closure, so a set of maps that is not a group is an error.

    Parameters
    ----------
    matrices
        ``(|G|, d, d)`` linear parts.
    offsets
        ``(|G|, d)`` translations (default zero).
    tol
        Tolerance for deciding that two maps are equal (relative to the offsets' size).
    """

    def __init__(self, matrices: object, offsets: object | None = None, *, tol: float = 1e-8):
        A, b = _as_maps(matrices, offsets)
        self.tol = float(tol)
        self.matrices, self.offsets = A, b
        self._check_group()

    # -- constructors -----------------------------------------------------------------
    @classmethod
    def identity(cls, dim: int) -> SymmetryGroup:
        """The trivial group (the kernel is then the base kernel)."""
        return cls(np.eye(dim)[None])

    @classmethod
    def cyclic(cls, n: int, centre: Sequence[float] = (0.0, 0.0)) -> SymmetryGroup:
        """Rotations by multiples of ``360 / n`` degrees about ``centre`` (2-D)."""
        if int(n) != n or n < 1:
            raise InputError(f"cyclic(n): n must be a positive integer; got {n}.")
        return cls.from_generators([_rotation(2 * math.pi / n, centre)])

    @classmethod
    def dihedral(
        cls, n: int, centre: Sequence[float] = (0.0, 0.0), mirror_angle: float = 0.0
    ) -> SymmetryGroup:
        """``n`` rotations about ``centre`` and ``n`` mirrors, one along ``mirror_angle`` (rad)."""
        if int(n) != n or n < 1:
            raise InputError(f"dihedral(n): n must be a positive integer; got {n}.")
        return cls.from_generators(
            [_rotation(2 * math.pi / n, centre), _mirror(mirror_angle, centre)]
        )

    @classmethod
    def mirror(cls, angle: float = 0.0, point: Sequence[float] = (0.0, 0.0)) -> SymmetryGroup:
        """Identity and the mirror about the line through ``point`` at ``angle`` (rad, 2-D)."""
        return cls.from_generators([_mirror(angle, point)])

    @classmethod
    def reflection(cls, dim: int, axis: int, position: float = 0.0) -> SymmetryGroup:
        """Identity and ``x[axis] -> 2 * position - x[axis]`` in ``dim`` dimensions."""
        if not 0 <= axis < dim:
            raise ShapeError(f"reflection: axis {axis} does not exist in {dim} dimension(s).")
        A = np.eye(dim)
        A[axis, axis] = -1.0
        b = np.zeros(dim)
        b[axis] = 2.0 * position
        return cls.from_generators([(A, b)])

    @classmethod
    def from_generators(
        cls, generators: Sequence[tuple[object, object]], *, max_order: int = 96, tol: float = 1e-8
    ) -> SymmetryGroup:
        """The group generated by affine maps ``[(A, b), ...]`` (closure under composition).

        Raises
        ------
        ConfigurationError
            When the maps generate more than ``max_order`` elements (e.g. a translation,
            whose group is infinite, or a rotation by an irrational angle).
        """
        if not generators:
            raise InputError("from_generators needs at least one (A, b) map.")
        gens = [tuple(np.asarray(m, dtype=np.float64) for m in g) for g in generators]
        d = gens[0][0].shape[0]
        elements = [(np.eye(d), np.zeros(d))]
        frontier = list(elements)
        while frontier:
            new = []
            for A, b in frontier:
                for G, c in gens:
                    C, e = G @ A, G @ b + c
                    if not any(_same(C, e, X, y, tol) for X, y in elements + new):
                        new.append((C, e))
            elements += new
            frontier = new
            if len(elements) > max_order:
                raise ConfigurationError(
                    f"The maps generate more than {max_order} elements: not a finite group "
                    "(a translation or an irrational rotation?). For lattice translations use "
                    "LatticePeriodic; otherwise raise max_order."
                )
        return cls([A for A, _ in elements], [b for _, b in elements], tol=tol)

    # -- algebra --------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.matrices.shape[0])

    @property
    def dim(self) -> int:
        return int(self.matrices.shape[1])

    def __mul__(self, other: SymmetryGroup) -> SymmetryGroup:
        """The group generated by both (e.g. a mirror times a rotation group)."""
        if not isinstance(other, SymmetryGroup) or other.dim != self.dim:
            raise InputError("Only groups of the same dimension combine.")
        gens = list(zip(self.matrices, self.offsets, strict=True))
        gens += list(zip(other.matrices, other.offsets, strict=True))
        return SymmetryGroup.from_generators(gens, tol=max(self.tol, other.tol))

    def apply(self, X: object) -> np.ndarray:
        """``(|G|, n, d)``: every group element applied to points ``X`` ``(n, d)`` (user units)."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.dim:
            raise ShapeError(f"Points must have shape (n, {self.dim}); got {X.shape}.")
        return np.einsum("gij,nj->gni", self.matrices, X) + self.offsets[:, None, :]

    def _check_group(self) -> None:
        n, d = len(self), self.dim
        if not any(_same(A, b, np.eye(d), np.zeros(d), self.tol) for A, b in self._pairs()):
            raise ConfigurationError("The maps do not contain the identity: not a group.")
        for A, b in self._pairs():
            if abs(np.linalg.det(A)) < 1e-12:
                raise ConfigurationError("A group element is singular: not an invertible map.")
            for B, c in self._pairs():
                C, e = A @ B, A @ c + b
                if not any(_same(C, e, X, y, self.tol) for X, y in self._pairs()):
                    raise ConfigurationError(
                        f"The {n} maps are not closed under composition: not a group. Build it "
                        "with SymmetryGroup.from_generators(...)."
                    )

    def _pairs(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return list(zip(self.matrices, self.offsets, strict=True))

    def __repr__(self) -> str:
        return f"SymmetryGroup(order={len(self)}, dim={self.dim})"


def _same(A: np.ndarray, b: np.ndarray, C: np.ndarray, e: np.ndarray, tol: float) -> bool:
    scale = max(1.0, float(np.abs(b).max(initial=0.0)), float(np.abs(e).max(initial=0.0)))
    return bool(np.abs(A - C).max() <= tol and np.abs(b - e).max() <= tol * scale)


def _rotation(angle: float, centre: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    c = np.asarray(centre, dtype=np.float64)
    if c.shape != (2,):
        raise ShapeError(f"Rotations are 2-D: centre must be (x, y); got {tuple(c.shape)}.")
    R = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return R, c - R @ c


def _mirror(angle: float, point: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(point, dtype=np.float64)
    if p.shape != (2,):
        raise ShapeError(f"Mirrors are 2-D: point must be (x, y); got {tuple(p.shape)}.")
    M = np.array(
        [[math.cos(2 * angle), math.sin(2 * angle)], [math.sin(2 * angle), -math.cos(2 * angle)]]
    )
    return M, p - M @ p


def unit_box_maps(group: SymmetryGroup, bounds: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The group's maps in unit-box coordinates ``u = (x - lo) / (hi - lo)``.

    ``x -> A x + b`` becomes ``u -> W^-1 A W u + W^-1 (A lo + b - lo)``, ``W = diag(hi - lo)``;
    ``bounds=None`` means the group is already written in unit-box coordinates.
    """
    if bounds is None:
        return group.matrices.copy(), group.offsets.copy()
    lo, width = bounds[:, 0], bounds[:, 1] - bounds[:, 0]
    A = group.matrices * width[None, None, :] / width[None, :, None]
    b = (np.einsum("gij,j->gi", group.matrices, lo) + group.offsets - lo) / width
    return A, b


def base_invariance(kernel: Kernel, matrices: np.ndarray) -> bool | None:
    """Whether ``kernel(g u, g u') == kernel(u, u')`` for linear parts ``matrices`` (unit box).

    Decided from the kernel's structure, for every value of its hyperparameters: True or
    False when known, None when the kernel type is unknown. Stationary kernels ignore the
    offsets; an isotropic one is invariant under orthogonal maps, an ARD one only under
    axis sign flips. A kernel may answer for itself with ``invariant_under(matrices)``.
    """
    from gpsteer.gp.kernels.composite import ProductKernel, ScaleKernel, SumKernel
    from gpsteer.gp.kernels.periodic import Periodic
    from gpsteer.gp.kernels.stationary import StationaryKernel

    if hasattr(kernel, "invariant_under"):
        return kernel.invariant_under(matrices)
    if isinstance(kernel, ScaleKernel) and kernel.active_dims is None:
        return base_invariance(kernel.base, matrices)
    if isinstance(kernel, (SumKernel, ProductKernel)) and kernel.active_dims is None:
        answers = [base_invariance(k, matrices) for k in (kernel.k1, kernel.k2)]
        if False in answers:
            return False
        return None if None in answers else True
    if isinstance(kernel, (StationaryKernel, Periodic)):
        if kernel.active_dims is not None:
            return None
        d = matrices.shape[1]
        eye = np.eye(d)
        signed_diagonal = all(
            np.allclose(A, np.diag(np.diag(A)), atol=_TOL) and np.allclose(np.abs(np.diag(A)), 1)
            for A in matrices
        )
        if signed_diagonal:
            return True
        if isinstance(kernel, StationaryKernel) and not kernel.ard:
            return all(np.allclose(A.T @ A, eye, atol=1e-9) for A in matrices)
        return False
    return None


class SymmetricKernel(Kernel):
    """The base kernel averaged over a finite group: exactly invariant under the group.

    Parameters
    ----------
    base
        Kernel on the (active) input columns, in unit-box coordinates.
    group
        A :class:`SymmetryGroup` in user coordinates (or unit-box ones if
        ``input_bounds`` is None).
    input_bounds
        The GP's ``input_bounds`` (all dimensions, user units); pass the same list you
        give :class:`~gpsteer.gp.GaussianProcess`, so that the group is mapped into the
        kernel's coordinates.
    method
        ``"auto"`` (single sum when the base is provably invariant under the mapped group,
        else the double sum), ``"single"`` (raises if the base is not invariant) or
        ``"double"``. After binding, :attr:`method_used` tells which one runs.
    active_dims
        Columns the group acts on (default all); the base kernel sees only these.
    chunk_size
        Points per block when computing the diagonal (bounds memory).

    Examples
    --------
    >>> from gpsteer.gp import GaussianProcess
    >>> from gpsteer.gp.kernels import Matern, ScaleKernel
    >>> bounds = [(-1.0, 1.0), (-1.0, 1.0)]
    >>> k = SymmetricKernel(Matern(ard=False), SymmetryGroup.cyclic(6), input_bounds=bounds)
    >>> gp = GaussianProcess(kernel=ScaleKernel(k), input_bounds=bounds)
    """

    def __init__(
        self,
        base: Kernel,
        group: SymmetryGroup,
        *,
        input_bounds: Sequence[tuple[float, float]] | None = None,
        method: str = "auto",
        active_dims: Sequence[int] | None = None,
        chunk_size: int = 256,
    ) -> None:
        if not isinstance(base, Kernel):
            raise InputError(f"SymmetricKernel wraps a Kernel; got {type(base).__name__}.")
        if not isinstance(group, SymmetryGroup):
            raise InputError(f"group must be a SymmetryGroup; got {type(group).__name__}.")
        if method not in _METHODS:
            raise UnknownNameError(f"Unknown method {method!r}; use one of {_METHODS}.")
        super().__init__(active_dims)
        self.base, self.group, self.method = base, group, method
        self.register_child("base", base)
        self.input_bounds = None
        if input_bounds is not None:
            b = np.asarray(input_bounds, dtype=np.float64)
            if b.ndim != 2 or b.shape[1] != 2 or not (b[:, 1] > b[:, 0]).all():
                raise InputError(
                    f"input_bounds must be [(lo, hi), ...] with lo < hi; got {b.tolist()}."
                )
            self.input_bounds = b
        self.chunk_size = int(chunk_size)
        self.method_used: str | None = None
        self._maps: tuple[np.ndarray, np.ndarray] | None = None
        self._tensors: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

    def bind(self, X: torch.Tensor, y: torch.Tensor | None = None) -> None:
        d_all = X.shape[1]
        cols = self.bind_columns(X)
        if self.group.dim != self.input_dim:
            raise ShapeError(
                f"The group acts on {self.group.dim} dimension(s) but the kernel sees "
                f"{self.input_dim}; set active_dims to the {self.group.dim} symmetric columns."
            )
        bounds = None
        if self.input_bounds is not None:
            if self.input_bounds.shape[0] != d_all:
                raise ShapeError(
                    f"input_bounds has {self.input_bounds.shape[0]} row(s) but the data have "
                    f"{d_all} column(s); pass the GP's full input_bounds."
                )
            bounds = self.input_bounds[cols]
        self._maps = unit_box_maps(self.group, bounds)
        self._tensors = {}
        self.base.bind(self._select(X), y)
        self.method_used = self._choose_method()

    def _choose_method(self) -> str:
        if self.method == "double":
            return "double"
        invariant = base_invariance(self.base, self._maps[0])
        if self.method == "auto":
            return "single" if invariant else "double"
        if invariant is False:
            raise ConfigurationError(
                "method='single' needs a base kernel invariant under the group in the unit box "
                "(an isotropic stationary kernel with equal-width axes for rotations); this one "
                "is not. Use method='double' or 'auto'."
            )
        if invariant is None and not self._numerically_invariant():
            raise ConfigurationError(
                "method='single': the base kernel changes under the group at random test "
                "points, so the single sum would not be a valid kernel. Use method='double'."
            )
        return "single"

    def _numerically_invariant(self) -> bool:
        gen = torch.Generator().manual_seed(0)
        u = torch.rand(32, self.input_dim, generator=gen, dtype=torch.float64)
        A, b = self._group_tensors(u)
        with torch.no_grad():
            k0 = self.base(u, u)
            gu = torch.einsum("gij,nj->gni", A, u) + b[:, None, :]
            return all(torch.allclose(self.base(g, g), k0, atol=1e-8) for g in gu)

    def _group_tensors(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self._maps is None:
            raise ConfigurationError("SymmetricKernel is not bound yet; give the GP data first.")
        key = (like.device, like.dtype)
        if key not in self._tensors:
            A, b = self._maps
            self._tensors[key] = (
                torch.as_tensor(A, dtype=like.dtype, device=like.device),
                torch.as_tensor(b, dtype=like.dtype, device=like.device),
            )
        return self._tensors[key]

    def _orbit(self, x: torch.Tensor) -> torch.Tensor:
        """``(|G| * n, d)``: all images of the rows of ``x``, element-major."""
        A, b = self._group_tensors(x)
        return (torch.einsum("gij,nj->gni", A, x) + b[:, None, :]).reshape(-1, x.shape[1])

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        if self._maps is None:
            self.bind(x1)
        n, m, G = x1.shape[0], x2.shape[0], len(self.group)
        if self.method_used == "single":
            return self.base(x1, self._orbit(x2)).reshape(n, G, m).mean(1)
        K = self.base(self._orbit(x1), self._orbit(x2)).reshape(G, n, G, m)
        return K.mean(dim=(0, 2))

    def forward_diag(self, x: torch.Tensor) -> torch.Tensor:
        if self._maps is None:
            self.bind(x)
        G, out = len(self.group), []
        for start in range(0, x.shape[0], self.chunk_size):
            c = x[start : start + self.chunk_size]
            k = c.shape[0]
            if self.method_used == "single":
                K = self.base(c, self._orbit(c)).reshape(k, G, k)
                out.append(torch.diagonal(K, dim1=0, dim2=2).mean(0))
            else:
                oc = self._orbit(c)
                K = self.base(oc, oc).reshape(G, k, G, k)
                out.append(torch.diagonal(K, dim1=1, dim2=3).mean(dim=(0, 1)))
        if not out:
            return torch.zeros(0, dtype=x.dtype, device=x.device)
        return torch.cat(out)

    def __repr__(self) -> str:
        return (
            f"SymmetricKernel(order={len(self.group)}, method={self.method_used or self.method}, "
            f"{self.base!r})"
        )
