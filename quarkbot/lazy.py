"""Lazy imports for faster start-up: a module loaded on its first attribute access.

Blueprints need their schemas (the OpenAPI document) at start-up, not the service modules their
handlers call. Typed use, so that mypy and import-linter still see the real import::

    from typing import TYPE_CHECKING

    from quarkbot.lazy import lazy_import

    if TYPE_CHECKING:
        from quarkbot_plugins.agents import service
    else:
        service = lazy_import("quarkbot_plugins.agents.service")

An import error surfaces at the first use instead of at start-up, so a plugin's route tests must
exercise each lazily imported module (they do, through the handlers).
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from types import ModuleType

_lock = threading.Lock()


def lazy_import(name: str) -> ModuleType:
    """The module ``name``: the loaded one if any, else one that executes on first use."""
    with _lock:
        loaded = sys.modules.get(name)
        if loaded is not None:
            return loaded
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            raise ModuleNotFoundError(f"no module named {name!r}", name=name)
        loader = importlib.util.LazyLoader(spec.loader)
        spec.loader = loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        loader.exec_module(module)
        return module
