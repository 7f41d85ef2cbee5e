"""The plugins' pydantic models, built on first use; checked at start-up once per code version.

Building a model's validator and serializer (pydantic's core schema) was most of ``create_app``:
about 0.45 s for the ~260 request and response models the blueprints import, of which a request
uses one or two. Models defined while the blueprints are registered are created with pydantic's
``defer_build`` (their fields are still collected and checked at once) and built on first use.

A model that cannot be built must still stop start-up, not fail its first request. So start-up
builds every deferred model unless this data dir records that the same code, with the same
libraries and ``QUARKBOT_*`` environment, already built them all (``models-checked``): a bad model
fails every start, since no start that saw it could record it as built. The record does not
depend on how the process was started, so ``quarkbot serve`` and ``hypercorn`` share it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import pydantic
from pydantic import BaseModel

from quarkbot.manager import PluginError

_defaults: dict[str, Any] | None
try:  # pydantic's defaults for every model config: private, so a release may move them
    from pydantic._internal._config import config_defaults as _private_defaults

    _defaults = cast(dict[str, Any], _private_defaults)
except ImportError:  # pragma: no cover - then every model is built when defined, as before
    _defaults = None

log = logging.getLogger("quarkbot")

#: False builds every model when it is defined (the reference of the tests; and the fallback
#: when pydantic no longer has the private defaults this module changes)
ENABLED = isinstance(_defaults, dict) and "defer_build" in _defaults
CHECKED_FILE = "models-checked"


@contextmanager
def deferred() -> Iterator[None]:
    """Models defined inside are created with ``defer_build`` (pydantic's default is changed
    for the duration: the plugins' models do not have to opt in)."""
    if not ENABLED or _defaults is None:
        yield
        return
    previous = _defaults.get("defer_build", False)
    _defaults["defer_build"] = True
    try:
        yield
    finally:
        _defaults["defer_build"] = previous


def check(data_dir: Path) -> int:
    """Build every model not built yet, unless ``data_dir`` records this code as checked.

    Answers how many models were built; raises :class:`PluginError` naming a model that cannot
    be built (as its definition would have raised without ``defer_build``).
    """
    pending = [model for model in _models() if not model.__pydantic_complete__]
    if not pending:
        return 0
    marker = data_dir / CHECKED_FILE
    fingerprint = _fingerprint(pending)
    try:
        if marker.read_text() == fingerprint:
            return 0
    except OSError:
        pass
    for model in pending:
        try:
            # as at definition: an undefined forward reference leaves the model for later
            model.model_rebuild(raise_errors=False, _types_namespace={})
        except Exception as error:
            raise PluginError(
                f"model {model.__module__}.{model.__qualname__} cannot be built: {error}"
            ) from error
    _write(marker, fingerprint)
    return len(pending)


def _models() -> Iterator[type[BaseModel]]:
    seen: set[type] = set()
    stack = list(BaseModel.__subclasses__())
    while stack:
        model = stack.pop()
        if model in seen:
            continue
        seen.add(model)
        stack.extend(model.__subclasses__())
        yield model


def _fingerprint(pending: list[type[BaseModel]]) -> str:
    """What the models' build depends on, the same whatever started the process (``quarkbot
    serve``, hypercorn, a test): the models' names; the content of every source file of
    quarkbot and of each package defining one; the installed distributions (their
    ``*.dist-info`` names carry the versions); the interpreter and the ``QUARKBOT_*`` environment.
    """
    digest = hashlib.sha256()
    digest.update(f"{sys.version}\0{pydantic.VERSION}\0".encode())
    for name in sorted(f"{model.__module__}.{model.__qualname__}" for model in pending):
        digest.update(f"{name}\0".encode())
    for name, value in sorted(os.environ.items()):
        if name.startswith("QUARKBOT_"):
            digest.update(f"{name}={value}\0".encode())
    for directory in sorted({entry for entry in sys.path if entry.endswith("-packages")}):
        with contextlib.suppress(OSError):
            digest.update("\0".join(sorted(os.listdir(directory))).encode())
    packages = {"quarkbot"} | {model.__module__.split(".", 1)[0] for model in pending}
    for path in sorted({path for package in packages for path in _source_files(package)}):
        try:
            digest.update(f"{path}\0".encode() + path.read_bytes())
        except OSError:
            digest.update(f"{path}\0missing\0".encode())
    return digest.hexdigest()


def _source_files(package: str) -> Iterator[Path]:
    """The ``.py`` files of a top-level package (or the file of a plain module)."""
    try:  # not getattr: that would execute a module that quarkbot.lazy has not loaded yet
        namespace = object.__getattribute__(sys.modules[package], "__dict__")
    except (KeyError, AttributeError):
        return
    for directory in namespace.get("__path__") or ():
        yield from Path(directory).rglob("*.py")
    if not namespace.get("__path__") and isinstance(namespace.get("__file__"), str):
        yield Path(namespace["__file__"])


def _write(marker: Path, fingerprint: str) -> None:
    temporary = marker.with_name(f".{marker.name}.{os.getpid()}")
    try:
        temporary.write_text(fingerprint)
        temporary.replace(marker)
    except OSError as error:  # a read-only data dir: check again at the next start
        log.debug("could not record the model check in %s: %s", marker, error)
