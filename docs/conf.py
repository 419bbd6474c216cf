"""Sphinx configuration of the gpsteer documentation.

Build: ``sphinx-build -W -b html docs docs/_build/html`` (warnings are errors;
``tests/unit/test_docs_build.py`` runs it). Pages are Markdown (MyST); the API
reference comes from the numpydoc docstrings.
"""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # build from a checkout without installing

project = "gpsteer"
author = "gpsteer developers"
copyright = "gpsteer developers"
try:
    release = metadata.version("gpsteer")
except metadata.PackageNotFoundError:
    release = "0+unknown"
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "numpydoc",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# MyST: anchors for "page.md#a-heading" links, ::: fences for notes.
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

# API reference.
autodoc_member_order = "bysource"
autodoc_typehints = "none"  # numpydoc docstrings state the types
autodoc_default_options = {"members": True, "show-inheritance": False}
numpydoc_show_class_members = False
numpydoc_validation_checks: set[str] = set()

html_theme = "alabaster"
html_title = f"gpsteer {release}"
html_theme_options = {
    "description": "Gaussian-process steering of beamline experiments, as Bluesky plans",
    "fixed_sidebar": True,
}


def _draw_figures(app: object) -> None:
    """Figures drawn from the code at each build (written under ``_static/generated``)."""
    sys.path.insert(0, str(ROOT / "docs" / "figures"))
    import live_plot  # docs/figures/live_plot.py

    live_plot.draw()


def setup(app: object) -> None:
    app.connect("builder-inited", _draw_figures)
