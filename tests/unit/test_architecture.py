"""The layering of docs/architecture.md, enforced: import-linter contracts in pyproject.toml."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_are_kept():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe, "lint-imports (import-linter, a dev dependency) is not installed in this venv"
    result = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_every_package_is_named_in_a_layers_contract():
    """A new package must take its place in the layering, not live outside every contract."""
    import gpsteer

    tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11")

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    named = set()
    for contract in config["contracts"]:
        for layer in contract.get("layers", []):
            named.update(part.strip() for part in layer.split("|"))
    package_dir = Path(gpsteer.__file__).parent
    packages = {
        f"gpsteer.{path.name}" for path in package_dir.iterdir() if (path / "__init__.py").exists()
    }
    assert packages <= named, f"not in any layers contract: {sorted(packages - named)}"


def test_the_bluesky_layer_and_the_devices_import_without_torch_or_ophyd():
    """What the docstrings promise: torch loads when an agent is built, ophyd when a
    device is; a simulated IOC subprocess pays for neither."""
    code = (
        "import sys\n"
        "import gpsteer, gpsteer.plans, gpsteer.catalog, gpsteer.callbacks, gpsteer.schema\n"
        "import gpsteer.plan_stubs, gpsteer.devices, gpsteer.sim_devices, gpsteer.session\n"
        "import gpsteer.agent.stopping\n"
        "print(sorted(m for m in ('torch', 'ophyd') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


def test_no_module_reaches_into_the_agents_private_fields():
    """The Agent owns its state: others use its public API (snapshot, state, tell...)."""
    import re

    import gpsteer

    package_dir = Path(gpsteer.__file__).parent
    pattern = re.compile(r"\bagent\._[a-z]")
    offenders = [
        f"{path.relative_to(package_dir)}:{number}"
        for path in package_dir.rglob("*.py")
        if path.relative_to(package_dir).as_posix() != "agent/agent.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not offenders, offenders
