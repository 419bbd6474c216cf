"""The worked example of docs/reference/autonomous_plan.md runs and prints what it claims.

Why: an example nobody runs rots. The page's ```python blocks run in order in one
namespace, in a temporary directory, with the catalog under a temporary data directory.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

pytestmark = [pytest.mark.system, pytest.mark.slow]

PAGE = Path(__file__).resolve().parents[2] / "docs" / "reference" / "autonomous_plan.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def test_the_worked_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPSTEER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    blocks = BLOCK.findall(PAGE.read_text())
    assert len(blocks) == 4
    namespace: dict = {"__name__": "docs_autonomous_plan"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for block in blocks:
            exec(compile(block, str(PAGE), "exec"), namespace)
    lines = out.getvalue().splitlines()
    assert "30 points measured" in lines
    assert "max_points" in lines
    assert "{'agent': 31, 'primary': 30}" in lines
    assert "True" in lines and "40" in lines
    pairs = [line.split() for line in lines if len(line.split()) == 2]
    replayed, recorded = (float(v) for v in pairs[-1])  # the decision-20 posterior, twice
    assert replayed == pytest.approx(recorded, rel=1e-8, abs=1e-8)
    assert (tmp_path / "map.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "live.png").read_bytes()[:4] == b"\x89PNG"
    namespace["RE"].loop.call_soon_threadsafe(namespace["RE"].loop.stop)
