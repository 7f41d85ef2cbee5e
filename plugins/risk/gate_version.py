"""The version of the gate state, kept in Redis: bumped after every change of the trading state,
the limits or a circuit breaker's state or settings, on any process (``gate_state.py`` caches
against it).

It starts at a random number (``SET NX``) so that a restarted or flushed Redis does not hand
out a version a process has cached against.
"""

from __future__ import annotations

import logging
import secrets

from redis.exceptions import RedisError

from quarkbot.redis_conn import current_redis, key

log = logging.getLogger("quarkbot.risk")


def _key() -> str:
    return key("risk", "gate-version")


async def bump() -> None:
    """The gate state changed (already written): every process reloads at its next check."""
    try:
        await current_redis().incr(_key())
    except RedisError as exc:
        # the other processes keep their copy until Redis is back and the next change bumps
        log.error("could not bump the gate state version (%s)", type(exc).__name__)


async def current_version() -> tuple[str, int] | None:
    """The version now (created at a random start when missing), or None without Redis."""
    try:
        redis = current_redis()
        name = _key()
        raw = await redis.get(name)
        if raw is None:
            await redis.set(name, secrets.randbelow(2**62), nx=True)
            raw = await redis.get(name)
    except RedisError:
        return None
    return (name, int(raw)) if raw is not None else None
