"""The agent behind gest-api's ``Generator`` standard (the real package)."""

from __future__ import annotations

import numpy as np
import pytest
from gest_api.generator import Generator
from gest_api.vocs import VOCS

from gpsteer.agent.gest import AgentGenerator


def peak(p: dict) -> float:
    return float(np.exp(-((p["sx"] - 0.7) ** 2 + (p["sy"] - 0.3) ** 2) / 0.05))


def vocs(objective: str = "EXPLORE", **extra) -> VOCS:
    return VOCS(
        variables={"sx": [0.0, 1.0], "sy": [0.0, 1.0]}, objectives={"I": objective}, **extra
    )


def test_it_is_a_generator_whose_objective_picks_the_acquisition() -> None:
    explore = AgentGenerator(vocs(), seed=0, training="inline")
    assert isinstance(explore, Generator) and explore.returns_id
    assert explore.agent.acquisition.name == "map"
    assert explore.agent.dimension_names == ("sx", "sy") and explore.agent.value_name == "I"
    assert AgentGenerator(vocs("MAXIMIZE"), seed=0).agent.acquisition.name == "ucb"
    assert AgentGenerator(vocs("MINIMIZE"), seed=0).agent.acquisition.name == "lcb"
    given = AgentGenerator(vocs("MAXIMIZE"), seed=0, acquisition="ei")
    assert given.agent.acquisition.name == "ei"


def test_a_suggest_ingest_loop_finds_the_maximum() -> None:
    generator = AgentGenerator(
        vocs("MAXIMIZE", constants={"exposure": 0.5}, observables={"dark"}),
        seed=0,
        training="inline",
    )
    for _ in range(10):
        points = generator.suggest(3)
        assert all(set(p) == {"_id", "sx", "sy", "exposure"} for p in points)
        generator.ingest([{**p, "I": peak(p), "dark": 0.01} for p in points])
    generator.finalize()
    ((_, best, _),) = generator.agent.get_best_points()
    assert generator.agent.n == 30 and not generator.agent.optimizer.pending
    assert np.hypot(best["sx"] - 0.7, best["sy"] - 0.3) < 0.1


def test_an_unknown_id_is_refused_and_nothing_is_taken_in() -> None:
    generator = AgentGenerator(vocs(), seed=0, training="inline")
    (p,) = generator.suggest(1)
    with pytest.raises(ValueError, match="did not suggest"):
        generator.ingest([{**p, "I": 1.0}, {"_id": 999, "sx": 0.1, "sy": 0.1, "I": 0.0}])
    assert generator.agent.n == 0
    generator.ingest([{"sx": 0.2, "sy": 0.9, "I": 0.5}])  # measured elsewhere: no "_id"
    generator.ingest([{**p, "I": 1.0}])
    assert generator.agent.n == 2
    with pytest.raises(ValueError, match="already taken in"):
        generator.ingest([{**p, "I": 1.0}])


@pytest.mark.parametrize(
    ("problem", "message"),
    [
        (vocs(constraints={"c": ["LESS_THAN", 0.0]}), "no output constraints"),
        (
            VOCS(variables={"sx": [0, 1]}, objectives={"a": "MAXIMIZE", "b": "MINIMIZE"}),
            "one output",
        ),
        (VOCS(variables={"sx": {0, 1, 2}}, objectives={"a": "EXPLORE"}), "continuous"),
    ],
)
def test_a_problem_it_cannot_model_is_refused(problem: VOCS, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AgentGenerator(problem, seed=0)
