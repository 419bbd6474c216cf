"""The ``map`` acquisition: the map's uncertainty, with a coverage floor."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gpsteer.acquisition import (
    AcquisitionContext,
    MapUncertainty,
    make_acquisition,
    select_batch,
    sobol_points,
)
from gpsteer.errors import InputError
from gpsteer.gp import GaussianProcess
from gpsteer.gp.local import near

BOX = np.array([[0.0, 10.0], [0.0, 10.0]])


def _model(X: np.ndarray) -> GaussianProcess:
    y = np.sin(X[:, 0]) + np.cos(X[:, 1])
    gp = GaussianProcess(kernel="edge", input_bounds=BOX.tolist())
    gp.set_data(X, y, np.full(len(y), 1e-4))
    return gp


def _choose(gp: GaussianProcess, acquisition: MapUncertainty, seed: int = 0):
    rng = np.random.default_rng(seed)
    return select_batch(
        acquisition,
        gp,
        1,
        bounds=BOX,
        candidates=sobol_points(BOX, 512, rng),
        context=AcquisitionContext(),
        n_starts=2,
        max_iter=20,
    )


def test_a_hole_wider_than_the_floor_is_filled_first():
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.uniform(0, 4, 60), rng.uniform(0, 10, 60)])  # right side empty
    sel = _choose(_model(X), MapUncertainty())
    (terms,) = sel.terms
    assert terms["reason"] == "coverage"
    assert terms["widest_gap"] > terms["gap_floor"] == pytest.approx(1.25 / np.sqrt(60))
    assert sel.points[0, 0] > 6.0  # deep in the unmeasured half
    assert terms["gap"] > 0.5 * terms["widest_gap"]


def test_without_holes_it_follows_the_uncertainty():
    g = np.linspace(0.5, 9.5, 10)
    X = np.array([(a, b) for a in g for b in g])  # a raster: no hole wider than the floor
    gp = _model(X)
    sel = _choose(gp, MapUncertainty())
    (terms,) = sel.terms
    assert terms["reason"] == "uncertainty"
    assert terms["widest_gap"] <= terms["gap_floor"]
    # the choice is the most uncertain candidate (or better, after the polish)
    candidates = sobol_points(BOX, 512, np.random.default_rng(0))
    std = gp.predict(candidates).variance ** 0.5
    chosen = gp.predict(sel.points).variance[0] ** 0.5
    assert chosen >= 0.999 * std.max()
    assert terms["std"] == pytest.approx(chosen, rel=1e-6)


def test_the_floor_can_be_turned_off():
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.uniform(0, 4, 60), rng.uniform(0, 10, 60)])
    sel = _choose(_model(X), MapUncertainty(coverage=None))
    assert sel.terms[0]["reason"] == "uncertainty"
    assert make_acquisition({"name": "map", "coverage": None}).coverage is None


def test_edge_strength_is_a_term_once_the_kernel_has_edges():
    from gpsteer.gp.structure import refresh_structure

    rng = np.random.default_rng(2)
    X = rng.uniform(0, 10, (80, 2))
    y = (X[:, 1] > 5).astype(float)
    gp = GaussianProcess(kernel="edge", input_bounds=BOX.tolist())
    gp.set_data(X, y, np.full(80, 1e-4))
    gp.fit(seed=0)
    assert "edge_strength" not in _choose(gp, MapUncertainty(coverage=None)).terms[0]
    refresh_structure(gp)
    terms = _choose(gp, MapUncertainty(coverage=None)).terms[0]
    assert terms["edge_strength"] >= 1.0


@pytest.mark.parametrize("coverage", [0.0, -1.0, float("nan")])
def test_bad_coverage_is_refused(coverage):
    with pytest.raises(InputError, match="coverage must be a positive number or None"):
        MapUncertainty(coverage=coverage)


def test_scores_are_differentiable_for_the_polish():
    rng = np.random.default_rng(3)
    gp = _model(rng.uniform(0, 10, (30, 2)))
    score = MapUncertainty(coverage=None).bind(gp, AcquisitionContext())
    X = torch.tensor([[3.3, 4.4]], dtype=torch.float64, requires_grad=True)
    score(X).sum().backward()
    assert X.grad is not None and torch.isfinite(X.grad).all()


def test_on_a_large_map_the_polish_runs_on_the_neighbours_and_still_wins():
    g = np.linspace(0.1, 9.9, 36)
    X = np.array([(a, b) for a in g for b in g])  # 1296 points, no hole: uncertainty
    gp = _model(X)
    scorer = MapUncertainty().bind(gp, AcquisitionContext())
    starts = np.array([[2.05, 3.1], [7.7, 7.7], [5.0, 0.3], [9.0, 1.0]])
    with torch.no_grad():
        local = scorer.near(starts)(torch.as_tensor(starts))
        exact = scorer(torch.as_tensor(starts))
    torch.testing.assert_close(local, exact, rtol=1e-3, atol=0.0)  # within 0.1 % there
    assert near(gp, starts).n < gp.n / 2  # on a model of fewer than half the points

    sel = _choose(gp, MapUncertainty())
    assert sel.terms[0]["reason"] == "uncertainty" and not sel.fallback
    candidates = sobol_points(BOX, 512, np.random.default_rng(0))
    best_candidate = (gp.predict(candidates).variance ** 0.5).max()
    assert sel.terms[0]["std"] >= best_candidate  # scored with the exact model
