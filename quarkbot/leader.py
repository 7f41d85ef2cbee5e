"""Leader election over Redis: run a long-lived task in exactly one process at a time.

Used for singletons such as a market-data feed or the paper broker's matching engine: every
worker runs :func:`run_as_leader`; one holds the lock and runs the body, the others wait and take
over within ``ttl`` seconds if the leader dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from quarkbot.utils import cancel_and_wait

log = logging.getLogger("quarkbot.leader")

_RENEW_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


async def run_as_leader(
    redis: Redis,
    key: str,
    body: Callable[[], Coroutine[Any, Any, None]],
    *,
    ttl: float = 3.0,
) -> None:
    """Run ``body`` whenever this process holds ``key``; returns only when cancelled."""
    token = uuid.uuid4().hex
    ttl_ms = int(ttl * 1000)
    renew = redis.register_script(_RENEW_LUA)
    release = redis.register_script(_RELEASE_LUA)
    while True:
        try:
            acquired = await redis.set(key, token, nx=True, px=ttl_ms)
        except RedisError:
            acquired = False
        if not acquired:
            await asyncio.sleep(ttl / 3)
            continue
        log.info("became leader for %s", key)
        task = asyncio.create_task(body(), name=f"leader:{key}")
        try:
            while not task.done():
                done, _ = await asyncio.wait({task}, timeout=ttl / 3)
                if done:
                    break
                try:
                    still_leader = await renew(keys=[key], args=[token, ttl_ms])
                except RedisError:
                    still_leader = 0
                if not still_leader:
                    log.warning("lost leadership for %s", key)
                    break
        finally:
            try:
                await cancel_and_wait(task)
            finally:
                with contextlib.suppress(RedisError):
                    await release(keys=[key], args=[token])
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.error("leader task %s failed: %r; restarting", key, task.exception())
        await asyncio.sleep(0.1)
