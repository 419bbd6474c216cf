"""The runnable example in docs/reference/gp_engine.md runs and does what it says."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[3] / "docs" / "reference" / "gp_engine.md"


def test_first_example_in_the_engine_docs_runs(capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert blocks, f"no python example in {DOC}"
    namespace: dict = {}
    exec(compile(blocks[0], str(DOC), "exec"), namespace)
    gp = namespace["gp"]
    assert gp.n == 61 and namespace["draws"].shape == (3, 50)
    assert namespace["result"].log_likelihood_after >= namespace["result"].log_likelihood_before
    assert "FitStatus.IMPROVED" in capsys.readouterr().out
