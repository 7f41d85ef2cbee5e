"""The import contracts of ``pyproject.toml`` (``lint-imports``, run by ``make lint``) catch a
boundary crossing: a throwaway module importing another plugin's internals, or the host importing
a plugin, written into a temporary copy of the code (the tree itself is left as it is).

``lint-imports`` runs in a subprocess whose working directory holds the copies, so that they, not
the installed packages, are analysed; what the real tree may still break is the baseline, and the
probe must add exactly its own import.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
ILLEGAL = re.compile(r"^-\s+(\S+) -> (\S+) \(l\.", re.MULTILINE)

pytestmark = pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter not installed")


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """``quarkbot`` and ``quarkbot_plugins`` copied into a fresh directory."""
    skip = shutil.ignore_patterns("__pycache__", "static", "*.egg-info")
    shutil.copytree(ROOT / "quarkbot", tmp_path / "quarkbot", ignore=skip)
    shutil.copytree(ROOT / "plugins", tmp_path / "quarkbot_plugins", ignore=skip)
    return tmp_path


def illegal_imports(root: Path) -> set[tuple[str, str]]:
    """(importer, imported) of every broken contract's import, as ``lint-imports`` reports it."""
    env = dict(os.environ, PYTHONPATH=str(root), COLUMNS="400", NO_COLOR="1")
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(ROOT / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Analyzed" in result.stdout, result.stdout + result.stderr
    found = set(ILLEGAL.findall(result.stdout))
    assert (result.returncode == 0) == (not found), result.stdout
    return found


def test_a_plugin_reaching_into_another_plugin_breaks_the_contract(copy: Path) -> None:
    baseline = illegal_imports(copy)
    probe = copy / "quarkbot_plugins" / "portfolio" / "zz_boundary_probe.py"
    probe.write_text(
        "from quarkbot_plugins.trading import api  # allowed: the api module\n"
        "from quarkbot_plugins.trading.models import Order  # not allowed\n"
    )
    added = illegal_imports(copy) - baseline
    assert added == {
        ("quarkbot_plugins.portfolio.zz_boundary_probe", "quarkbot_plugins.trading.models")
    }


def test_the_host_importing_a_plugin_breaks_the_contract(copy: Path) -> None:
    baseline = illegal_imports(copy)
    probe = copy / "quarkbot" / "zz_boundary_probe.py"
    probe.write_text("from quarkbot_plugins.trading import api\n")
    added = illegal_imports(copy) - baseline
    assert added == {("quarkbot.zz_boundary_probe", "quarkbot_plugins.trading.api")}
