"""The Sphinx documentation builds with warnings as errors, and every page is in it.

Runs ``sphinx-build -W -b html docs <tmp>``, as the docs are built for publishing
(``make docs``). Skipped when the docs extra (sphinx, myst-parser, numpydoc) is
not installed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

for module in ("sphinx", "myst_parser", "numpydoc"):
    pytest.importorskip(module, reason="building the docs needs the docs extra")

pytestmark = pytest.mark.slow

DOCS = Path(__file__).resolve().parents[2] / "docs"
SPHINX = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]


def test_the_docs_build_without_warnings_and_hold_every_page(tmp_path: Path) -> None:
    out = tmp_path / "html"
    proc = subprocess.run(
        [*SPHINX, "-d", str(tmp_path / "doctrees"), str(DOCS), str(out)],
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert proc.returncode == 0, f"sphinx-build failed:\n{proc.stderr[-5000:]}"
    pages = [p for p in DOCS.rglob("*.md") if "_build" not in p.parts]
    missing = [
        str(p.relative_to(DOCS))
        for p in pages
        if not (out / p.relative_to(DOCS).with_suffix(".html")).exists()
    ]
    assert not missing, f"pages not built: {missing}"
    api = (out / "reference" / "api_agent.html").read_text()
    assert 'id="gpsteer.agent.Agent.ask"' in api  # the API reference comes from docstrings
