"""Tiny helpers shared by the host."""

from __future__ import annotations

import inspect
from typing import Any, TypeVar

T = TypeVar("T")


async def maybe_await(value: Any) -> Any:
    """Hooks may return a value or an awaitable; await only the latter."""
    if inspect.isawaitable(value):
        return await value
    return value
