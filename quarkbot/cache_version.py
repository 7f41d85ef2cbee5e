"""Version numbers in Redis for state that processes cache: whoever changes the state (after
writing it) bumps the version; a reader compares the version with the one its copy was loaded at
and reloads when they differ, so a change on any process is seen by every other at its next read
(one Redis GET instead of the database queries). Without Redis there is no version (``None``)
and readers must not cache.

A version starts at a random number (``SET NX``) so that a restarted or flushed Redis does not
hand out a version a process has cached against.

Batches: a path that reads several versions (placing an order reads the instruments' and the
risk gate's) names them in a group (``join``) and reads them all in one round trip (``batch``, an
MGET). Inside the block the first ``current()`` of each name takes the batched value, once; a
later read of the same name (the re-check right before the broker call) goes to Redis again, so
no value is reused beyond the one read it was fetched for.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Sequence
from contextvars import ContextVar

from redis.exceptions import RedisError

from quarkbot import shared_reads
from quarkbot.redis_conn import current_redis, key

log = logging.getLogger("quarkbot.cache_version")

Version = tuple[str, int]
Name = tuple[str, ...]

#: the versions read while placing an order (``batch(ORDER)`` in the trading pipeline)
ORDER = "order"

_groups: dict[str, dict[Name, None]] = {}
#: the versions of the current ``batch`` block not yet taken, by full key (None: no Redis)
_batched: ContextVar[dict[str, Version | None] | None] = ContextVar(
    "quarkbot_cache_version_batched", default=None
)


async def bump(*name: str) -> None:
    """The state called ``name`` changed (already written): readers reload at their next read."""
    try:
        await current_redis().incr(key("version", *name))
    except RedisError as exc:
        # readers keep their copy until Redis is back and the next change bumps
        log.error("could not bump the version of %s (%s)", ":".join(name), type(exc).__name__)


async def bump_with_commit(*name: str) -> None:
    """Inside ``events.atomic()``: bump ``name`` once the transaction commits, through the
    outbox (before the transaction's later events are published; after a crash between the
    commit and the bump, the outbox relay bumps). Outside a transaction: now."""
    from quarkbot import events

    if not await events.write_version_bump(key("version", *name)):
        await bump(*name)


async def current(*name: str) -> Version | None:
    """The version of ``name`` now (created at a random start when missing); None without
    Redis. Inside a ``batch`` block that read it, the batched value (once)."""
    full = key("version", *name)
    batched = _batched.get()
    if batched is not None and full in batched:
        return batched.pop(full)
    return (await _read([full]))[full]


def join(group: str, *name: str) -> None:
    """Read the version ``name`` with the others of ``group`` in its ``batch``."""
    _groups.setdefault(group, {})[tuple(name)] = None


def members(group: str) -> list[Name]:
    return list(_groups.get(group, {}))


@contextlib.asynccontextmanager
async def batch(group: str) -> AsyncIterator[None]:
    """Read every version of ``group`` in one round trip; ``current()`` inside the block takes
    each of them once."""
    names = members(group)
    read = await _read([key("version", *name) for name in names]) if names else {}
    token = _batched.set(read)
    try:
        yield
    finally:
        _batched.reset(token)


async def _read(keys: Sequence[str]) -> dict[str, Version | None]:
    """The versions now: read after this call began, in a read concurrent callers of the same
    keys share (``quarkbot.shared_reads``: a version as fresh as the caller's arrival is all a
    cached copy's check needs)."""
    found = await shared_reads.shared(("versions", *keys), lambda: _read_now(keys))
    return dict(found)  # the caller's own (``batch`` takes values out of it)


async def _read_now(keys: Sequence[str]) -> dict[str, Version | None]:
    """One MGET; a missing version is created (``SET NX``) and read in a second round trip."""
    try:
        redis = current_redis()
        raws = await (redis.mget(keys) if len(keys) > 1 else redis.get(keys[0]))
        raws = raws if isinstance(raws, list) else [raws]
        found = dict(zip(keys, raws, strict=True))
        missing = [k for k, raw in found.items() if raw is None]
        if missing:
            async with redis.pipeline(transaction=False) as pipe:
                for k in missing:
                    pipe.set(k, secrets.randbelow(2**62), nx=True)
                pipe.mget(missing)
                *_, created = await pipe.execute()
            found.update(zip(missing, created, strict=True))
    except RedisError:
        return dict.fromkeys(keys)
    return {k: ((k, int(raw)) if raw is not None else None) for k, raw in found.items()}
