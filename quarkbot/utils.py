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


async def cancel_and_wait(task: asyncio.Task[Any], recancel_after: float = 2.0) -> None:
    """Cancel ``task`` and wait until it has finished.

    ``task.cancel(); with suppress(CancelledError): await task`` also swallows a cancellation of
    the *caller* that arrives while it waits, and a loop that loses its own cancel never stops.
    Here the caller's cancellation propagates. A task that swallowed its cancel (on Python 3.11
    ``asyncio.wait_for`` does when the awaited call completes at the same moment, and redis-py
    uses it) is cancelled again every ``recancel_after`` seconds, which leaves time for a
    normal clean-up. The task's own outcome is retrieved and dropped.
    """
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=recancel_after)
    if not task.cancelled():
        task.exception()
