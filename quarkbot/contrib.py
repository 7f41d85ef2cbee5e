"""Small value types that plugins return from ``register_*`` hooks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["viewer", "trader", "admin"]


@dataclass(frozen=True)
class Channel:
    """A WebSocket channel (or pattern, with ``*``) and the role needed to subscribe to it."""

    name: str
    role: Role = "viewer"
    description: str = ""


@dataclass(frozen=True)
class CronJob:
    """A job function run on a schedule (arq cron semantics: sets or ints per field)."""

    function: Callable[..., Any]
    minute: set[int] | int | None = None
    hour: set[int] | int | None = None
    second: set[int] | int | None = 0
    run_at_startup: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
