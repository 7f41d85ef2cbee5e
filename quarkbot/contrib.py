"""Small value types that plugins return from ``register_*`` hooks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["viewer", "trader", "admin"]


@dataclass(frozen=True)
class Channel:
    """A WebSocket channel (or pattern, with ``*``) and the role needed to subscribe to it.

    ``owner_check`` makes a channel family private, for events that carry one user's data
    (``backtests:{id}``): ``await owner_check(identity, channel)`` must be true for a
    subscription to one channel of the family (admins always pass), and a subscription by
    pattern (``backtests:*``), which would see everyone's, needs the admin role.
    """

    name: str
    role: Role = "viewer"
    description: str = ""
    owner_check: Callable[[Any, str], Awaitable[bool]] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class CronJob:
    """A job function run on a schedule (arq cron semantics: sets or ints per field)."""

    function: Callable[..., Any]
    minute: set[int] | int | None = None
    hour: set[int] | int | None = None
    second: set[int] | int | None = 0
    run_at_startup: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
