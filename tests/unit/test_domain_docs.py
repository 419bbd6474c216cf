"""The runnable examples in docs/howto/domain_knowledge/ run and print what they claim.

Why: an example nobody runs rots. Each page's ```python blocks run in order in one
namespace (so a page reads top to bottom), with a small budget of points.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs" / "howto" / "domain_knowledge"
PAGES = sorted(DOCS.glob("*.md"))
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def test_every_building_block_has_a_page():
    names = {p.stem for p in PAGES}
    assert {
        "symmetry",
        "periodicity",
        "nonstationary",
        "categorical",
        "physics_mean",
        "spectra",
    } <= names


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_examples_run(page):
    blocks = BLOCK.findall(page.read_text())
    assert blocks, f"{page.name} has no runnable example"
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for code in blocks:
            exec(compile(code, str(page), "exec"), namespace)
    if page.stem != "README":
        assert out.getvalue().strip(), f"{page.name}'s example prints nothing"
