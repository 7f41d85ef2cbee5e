"""Tiny helpers shared by the host."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, TypeVar

T = TypeVar("T")


async def maybe_await(value: Any) -> Any:
    """Hooks may return a value or an awaitable; await only the latter."""
    if inspect.isawaitable(value):
        return await value
    return value


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and wait until it has finished.

    ``task.cancel(); with suppress(CancelledError): await task`` also swallows a cancellation of
    the *caller* that arrives while it waits, and a loop that loses its own cancel never stops.
    Here the caller's cancellation propagates; the task's own outcome is retrieved and dropped.
    """
    task.cancel()
    await asyncio.wait({task})
    if not task.cancelled():
        task.exception()
