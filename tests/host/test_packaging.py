"""Packaging: every package is installed, under our own names, and start-up stays light."""

from __future__ import annotations

import configparser
import json
import subprocess
import sys
from pathlib import Path

from .helpers import cli_env

ROOT = Path(__file__).resolve().parents[2]
HEAVY_MODULES = (
    "vectorbt",
    "numba",
    "pandas",
    "scipy",
    "numpy",
    "statsmodels",
    "sklearn",
    "openai",
    "matplotlib",
    "plotly",
)


def _setup_cfg_packages() -> tuple[set[str], dict[str, str]]:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    packages = {line.strip() for line in config["options"]["packages"].splitlines() if line.strip()}
    package_dir = {}
    for line in config["options"]["package_dir"].splitlines():
        if "=" in line:
            name, _, path = line.partition("=")
            package_dir[name.strip()] = path.strip()
    return packages, package_dir


def _package_dirs(top: Path) -> set[tuple[str, ...]]:
    return {
        init.parent.relative_to(top.parent).parts
        for init in top.rglob("__init__.py")
        if "__pycache__" not in init.parts
    }


def test_every_package_directory_is_listed_in_setup_cfg():
    packages, package_dir = _setup_cfg_packages()
    assert package_dir == {"quarkbot_plugins": "plugins"}
    expected = {".".join(parts) for parts in _package_dirs(ROOT / "quarkbot")}
    expected |= {
        ".".join(("quarkbot_plugins", *parts[1:])) for parts in _package_dirs(ROOT / "plugins")
    }
    assert {"quarkbot", "quarkbot.migrations", "quarkbot_plugins"} <= expected
    assert expected - packages == set()
    assert packages - expected == set()  # and nothing listed that does not exist
    assert not any(name == "plugins" or name.startswith("plugins.") for name in packages)


def _fresh_python(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """A new interpreter outside the repository, so the work tree is not on ``sys.path``."""
    return subprocess.run(
        [sys.executable, "-c", code],
        env=cli_env(tmp_path / "var"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_plugins_are_importable_only_as_quarkbot_plugins(tmp_path):
    code = (
        "import importlib.util, json\n"
        "spec = importlib.util.find_spec('quarkbot_plugins')\n"
        "plain = importlib.util.find_spec('plugins')\n"
        "print(json.dumps([spec.origin, plain and plain.origin]))\n"
    )
    result = _fresh_python(code, tmp_path)
    assert result.returncode == 0, result.stderr
    ours, plain = json.loads(result.stdout)
    assert Path(ours) == ROOT / "plugins" / "__init__.py"
    assert plain is None or not Path(plain).is_relative_to(ROOT)


def test_start_up_does_not_import_heavy_numeric_modules(tmp_path):
    code = (
        "import json, sys\n"
        "from quarkbot.asgi import app\n"
        "assert app.extensions['quarkbot'].manager.plugins()\n"
        f"print(json.dumps([m for m in {HEAVY_MODULES!r} if m in sys.modules]))\n"
    )
    result = _fresh_python(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == []
    assert (tmp_path / "var" / "secrets.json").exists()  # it really built the default app
