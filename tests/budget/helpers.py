"""The risk tests' helpers, loaded by path (the test folders are not one importable tree)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def _load() -> ModuleType:
    name = "budget_tests_risk_helpers"
    if name in sys.modules:
        return sys.modules[name]
    path = Path(__file__).resolve().parents[1] / "risk" / "helpers.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_h = _load()
D = _h.D
INSTRUMENTS = _h.INSTRUMENTS
PLUGINS = _h.PLUGINS
alerts = _h.alerts
place = _h.place
