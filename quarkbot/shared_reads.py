"""Reads that concurrent callers share, each sent only after every caller it serves arrived.

Some reads only need to be at least as fresh as their caller's arrival: a cached state's version
or the identity cache's generation must show every change that finished before the caller
began, nothing more. One read sent after several callers arrived is that fresh for each of
them, so the callers of one event-loop iteration share it: the first schedules it, the others
join until it is sent, and whoever comes later starts the next one. Under load (many requests
in flight) this saves most of those round trips; alone, a caller waits one turn of the loop.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")

_pending: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[Hashable, asyncio.Future[Any]]
] = weakref.WeakKeyDictionary()


async def shared(key: Hashable, fetch: Callable[[], Awaitable[T]]) -> T:
    """``await fetch()``, or the result of the read of ``key`` not sent yet, which this call
    joins. ``key`` names what ``fetch`` reads: callers with the same key get the same result
    (the same object: do not change it)."""
    loop = asyncio.get_running_loop()
    pending = _pending.setdefault(loop, {})
    read = pending.get(key)
    if read is None:
        read = pending[key] = loop.create_task(_after_this_turn(pending, key, fetch))
    # one caller's cancellation must not cancel the others' read
    result: T = await asyncio.shield(read)
    return result


async def _after_this_turn(
    pending: dict[Hashable, asyncio.Future[Any]], key: Hashable, fetch: Callable[[], Awaitable[T]]
) -> T:
    await asyncio.sleep(0)  # the callers of this turn of the loop join
    del pending[key]  # from here on, newcomers start the next read
    return await fetch()
