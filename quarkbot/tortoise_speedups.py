"""Start-up speed-ups for tortoise-orm that keep its behaviour.

tortoise's model metaclass reads every model class's source (``inspect.getsource``, which parses
the whole module with ``ast`` once per class) to copy ``#:`` comments into field descriptions.
quarkbot's models carry none, yet that search cost about a tenth of ``create_app``. The wrapper
installed here answers ``{}`` at once for a class whose source file has no ``#:`` at all (the
search's answer for such a file) and asks tortoise's own search otherwise, so a plugin that does
use ``#:`` comments keeps its descriptions. Installed by :mod:`quarkbot.db` before any plugin's
models are imported.
"""

from __future__ import annotations

import inspect
import linecache
from collections.abc import Callable
from typing import Any

from tortoise import models as tortoise_models

CommentSearch = Callable[[Any], dict[str, str]]

#: tortoise's own search, kept for classes whose file has ``#:`` comments.
_ORIGINAL: CommentSearch = tortoise_models._get_comments


def may_have_comments(cls: type) -> bool:
    """False only when the source file of ``cls`` is known and has no ``#:`` anywhere."""
    try:
        path = inspect.getsourcefile(cls)
    except TypeError:
        return True
    if not path:
        return True
    lines = linecache.getlines(path)
    return not lines or any("#:" in line for line in lines)


def get_comments(cls: Any) -> dict[str, str]:
    return _ORIGINAL(cls) if may_have_comments(cls) else {}


def install() -> None:
    """Idempotent: route tortoise's comment search through :func:`get_comments`."""
    tortoise_models._get_comments = get_comments
