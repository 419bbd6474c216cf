"""Every ```python example in docs/ runs, and prints what the page says it prints.

Why: an example nobody runs rots. Each page's ``python`` blocks run in order in one
namespace (a page reads top to bottom), in a temporary directory, with the catalog
under a temporary data directory and matplotlib on Agg.

Markers, HTML comments on the line(s) just before a block (invisible on the page):

``<!-- docs-test: skip REASON -->``
    Not run here; the reason is required (a real scheduler, real hardware...).
``<!-- docs-test: profile -->``
    Runs inside the IPython beamline profile, by tests/system/test_profile_collection.py.
``<!-- docs-test: expect -->`` before a ```text block that follows a python block
    Each non-empty line must appear in what that python block printed (``...`` matches
    anything).
``<!-- docs-test: setup ... -->`` (code inside the comment)
    Run before the next block: definitions a reader does not need to see.

And once per page: ``<!-- docs-test: system -->`` for pages that start IOCs, Dask
clusters or catalogs (the test is then marked ``system``).

Pages with a dedicated test of their own are listed in :data:`COVERED` and skipped
here (not run twice).
"""

from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

#: Pages whose examples a dedicated test runs, with more specific checks.
COVERED = {
    "reference/gp_engine.md": "tests/unit/gp/test_gp_docs.py",
    "reference/autonomous_plan.md": "tests/system/test_autonomous_plan_docs.py",
    "howto/domain_knowledge/README.md": "tests/unit/test_domain_docs.py",
    "howto/domain_knowledge/categorical.md": "tests/unit/test_domain_docs.py",
    "howto/domain_knowledge/nonstationary.md": "tests/unit/test_domain_docs.py",
    "howto/domain_knowledge/periodicity.md": "tests/unit/test_domain_docs.py",
    "howto/domain_knowledge/physics_mean.md": "tests/unit/test_domain_docs.py",
    "howto/domain_knowledge/spectra.md": "tests/unit/test_domain_docs.py",
    "howto/domain_knowledge/symmetry.md": "tests/unit/test_domain_docs.py",
}
#: At most this many blocks may be skipped: skipping is the exception.
MAX_SKIPPED = 12

FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)
MARKER = re.compile(r"<!--\s*docs-test:\s*(\w+)(.*?)-->", re.DOTALL)


@dataclass
class Block:
    """One fenced block of a page, with the markers right before it."""

    language: str
    code: str
    line: int
    markers: dict[str, str] = field(default_factory=dict)
    setup: list[str] = field(default_factory=list)
    expect: list[str] | None = None


@dataclass
class Page:
    path: Path
    blocks: list[Block]
    system: bool

    @property
    def name(self) -> str:
        return self.path.relative_to(DOCS).as_posix()

    @property
    def python(self) -> list[Block]:
        return [b for b in self.blocks if b.language == "python"]


def parse(path: Path) -> Page:
    """Split a page into blocks and attach each block's markers."""
    text = path.read_text(encoding="utf-8")
    blocks: list[Block] = []
    pos = 0
    system = False
    for match in FENCE.finditer(text):
        between = text[pos : match.start()]
        block = Block(match.group(1), match.group(2), text.count("\n", 0, match.start()) + 1)
        for marker in MARKER.finditer(between):
            kind, rest = marker.group(1), marker.group(2).strip()
            if kind == "system":
                system = True
            elif kind == "setup":
                block.setup.append(rest)
            else:
                block.markers[kind] = rest
        prose = MARKER.sub("", between).strip()
        if "expect" in block.markers and blocks and not prose:
            blocks[-1].expect = [ln for ln in block.code.splitlines() if ln.strip()]
        blocks.append(block)
        pos = match.end()
    system = system or any(m.group(1) == "system" for m in MARKER.finditer(text[pos:]))
    return Page(path, blocks, system)


PAGES = [parse(p) for p in sorted(DOCS.rglob("*.md")) if "_build" not in p.parts]
RUN_HERE = [
    p
    for p in PAGES
    if p.name not in COVERED
    and any("skip" not in b.markers and "profile" not in b.markers for b in p.python)
]


def _expected(line: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in line.strip().split("...")))


def _cleanup(namespace: dict, iocs_before: set[int]) -> None:
    """Close what a page opened and forgot (it should not, but a failure can skip it)."""
    from gpsteer.sim_devices import launcher

    for value in list(namespace.values()):
        kind = type(value).__name__
        with contextlib.suppress(Exception):
            if kind == "RunEngine":
                value.loop.call_soon_threadsafe(value.loop.stop)
            elif kind in ("Agent", "Catalog", "Beamline", "LocalCluster", "Client"):
                value.close()
    for ioc in launcher.live_iocs():
        if id(ioc) not in iocs_before:
            ioc.stop()


# -- the rules of the markers (fast) -------------------------------------------------


def test_every_python_block_is_run_somewhere_and_skips_are_few_and_explained() -> None:
    skipped = []
    for page in PAGES:
        for block in page.python:
            if "skip" in block.markers:
                assert len(block.markers["skip"]) >= 10, (
                    f"{page.name}:{block.line}: say why the block is skipped"
                )
                skipped.append(f"{page.name}:{block.line}")
            unknown = set(block.markers) - {"skip", "profile", "expect"}
            assert not unknown, f"{page.name}:{block.line}: unknown markers {unknown}"
    assert len(skipped) <= MAX_SKIPPED, f"too many skipped examples: {skipped}"


def test_pages_covered_elsewhere_have_their_test() -> None:
    for name, test in COVERED.items():
        assert (DOCS / name).exists(), f"COVERED names a page that is gone: {name}"
        source = (ROOT / test).read_text()
        page = Path(name)
        assert page.name in source or page.parent.name in source, f"{test} does not run {name}"


def test_profile_examples_are_run_by_the_profile_test() -> None:
    marked = [p.name for p in PAGES for b in p.python if "profile" in b.markers]
    assert marked == ["tutorials/beamline_session.md"]
    source = (ROOT / "tests/system/test_profile_collection.py").read_text()
    assert "docs-test: profile" in source and "beamline_session.md" in source


def test_expected_output_blocks_follow_a_python_block() -> None:
    for page in PAGES:
        for i, block in enumerate(page.blocks):
            if "expect" in block.markers:
                assert i > 0 and page.blocks[i - 1].language == "python", (
                    f"{page.name}:{block.line}: an expected output follows a python block"
                )
                assert page.blocks[i - 1].expect, f"{page.name}:{block.line}: prose in between"


# -- running the examples --------------------------------------------------------------


def _param(page: Page) -> object:
    marks = [pytest.mark.slow] + ([pytest.mark.system] if page.system else [])
    return pytest.param(page, marks=marks, id=page.name)


@pytest.mark.parametrize("page", [_param(p) for p in RUN_HERE])
def test_the_examples_of_a_page_run(
    page: Page, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from gpsteer.sim_devices import launcher

    monkeypatch.setenv("GPSTEER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"docs_{page.path.stem}"}
    before = {id(ioc) for ioc in launcher.live_iocs()}
    ran = 0
    try:
        for block in page.python:
            if "skip" in block.markers or "profile" in block.markers:
                continue
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                for setup in block.setup:
                    exec(compile(setup, f"{page.path}:{block.line} (setup)", "exec"), namespace)
                exec(compile(block.code, f"{page.path}:{block.line}", "exec"), namespace)
            ran += 1
            printed = out.getvalue()
            for line in block.expect or []:
                assert _expected(line).search(printed), (
                    f"{page.name}:{block.line} should print {line!r}; it printed:\n{printed}"
                )
    finally:
        _cleanup(namespace, before)
    assert ran, f"{page.name} has python blocks but none ran"
