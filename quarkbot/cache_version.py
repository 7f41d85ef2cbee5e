"""Version numbers in Redis for state that processes cache: whoever changes the state (after
writing it) bumps the version; a reader compares the version with the one its copy was loaded at
and reloads when they differ, so a change on any process is seen by every other at its next read
(one Redis GET instead of the database queries). Without Redis there is no version (``None``)
and readers must not cache.

A version starts at a random number (``SET NX``) so that a restarted or flushed Redis does not
hand out a version a process has cached against.
"""

from __future__ import annotations

import logging
import secrets

from redis.exceptions import RedisError

from quarkbot.redis_conn import current_redis, key

log = logging.getLogger("quarkbot.cache_version")

Version = tuple[str, int]


async def bump(*name: str) -> None:
    """The state called ``name`` changed (already written): readers reload at their next read."""
    try:
        await current_redis().incr(key("version", *name))
    except RedisError as exc:
        # readers keep their copy until Redis is back and the next change bumps
        log.error("could not bump the version of %s (%s)", ":".join(name), type(exc).__name__)


async def current(*name: str) -> Version | None:
    """The version of ``name`` now (created at a random start when missing); None without
    Redis."""
    full = key("version", *name)
    try:
        redis = current_redis()
        raw = await redis.get(full)
        if raw is None:
            await redis.set(full, secrets.randbelow(2**62), nx=True)
            raw = await redis.get(full)
    except RedisError:
        return None
    return (full, int(raw)) if raw is not None else None
