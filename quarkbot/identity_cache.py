"""Identities cached per process, trusted only while Redis says nothing changed since.

Authenticating a bearer token or an API key costs two or three queries; the result is the same
until a logout, a password, role or active-flag change, or a key revocation. Each of those, after
its database write has committed, replaces one Redis value, the *generation*, with a new random
token (:func:`invalidate`). A cached identity carries the generation read *before* the database
lookup that produced it, and is used only when the generation in Redis still equals it (one GET,
the only round trip of a cached request).

Why a revoked credential fails on every process at once, with no window:
- A revocation R commits, then replaces the generation (g0 -> g1), then answers its caller.
- A request Q that starts after R answered reads g1 (or a later value), so it trusts only
  entries tagged g1 or later. Such an entry was filled by a request that read the generation
  after R replaced it, hence after R committed, so its database lookup already saw R and it
  refused the credential instead of caching it.
- The race with a request in flight during R: it read g0 before its lookup; whatever the lookup
  saw, its entry is tagged g0 and is never trusted once g1 is in place.
- Generations are random, not counted: Redis losing its data (restart without persistence)
  cannot bring back a value an old entry carries. With Redis unreachable nothing is trusted and
  every request goes to the database.
The generation is global: any revocation empties every cache at once, which is cheap because
revocations are rare.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

from quarkbot import events, shared_reads
from quarkbot.errors import Unavailable

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("quarkbot.auth")

MAX_ENTRIES = 10_000
_INVALIDATE_ATTEMPTS = 3

_redis: Redis | None = None
_key = ""


def install(redis: Redis | None, prefix: str = "") -> None:
    """Use ``redis`` for generations (the web app at start-up; None at shutdown)."""
    global _redis, _key
    _redis, _key = redis, f"{prefix}:auth:generation"
    _cache.clear()


async def current_generation() -> str | None:
    """The generation in Redis, read after this call began; None when Redis cannot tell.

    Concurrent callers share one read, as long as it was not sent before they called
    (``quarkbot.shared_reads``): a read sent after a caller arrived reflects every invalidation
    finished before it arrived, which is all the argument above needs.
    """
    if _redis is None:
        return None
    return await shared_reads.shared(("auth-generation", _key), _read)


async def _read() -> str | None:
    if _redis is None:
        return None
    try:
        value = await _redis.get(_key)
        if value is None:
            await _redis.set(_key, secrets.token_hex(16), nx=True)
            value = await _redis.get(_key)
    except (RedisError, OSError):
        return None
    return value.decode() if isinstance(value, bytes) else value


async def invalidate_with_commit() -> None:
    """Inside the change's ``events.atomic()``: renew the generation once it commits, through
    the outbox, so that a crash between the commit and the renewal cannot leave other processes
    trusting the old credentials (the outbox relay renews). Call :func:`invalidate` after the
    block as well: it renews at once and fails loudly while Redis is down."""
    if _redis is not None:
        await events.write_generation_renewal(_key)


async def invalidate() -> None:
    """Distrust every cached identity on every process. Call after the change committed."""
    if _redis is None:
        return  # no process of this installation caches without Redis
    for attempt in range(_INVALIDATE_ATTEMPTS):
        try:
            await _redis.set(_key, secrets.token_hex(16))
            return
        except (RedisError, OSError) as exc:
            if attempt == _INVALIDATE_ATTEMPTS - 1:
                log.error("could not invalidate cached identities (%s)", type(exc).__name__)
                raise Unavailable(
                    "The change is stored, but other processes may still accept the old "
                    "credentials until Redis is back; retry",
                    retry_after=1,
                ) from exc
            await asyncio.sleep(0.05 * (attempt + 1))


class IdentityCache:
    """Entries keyed by credential (a token's id, an API key's digest), each with its generation."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[str, Any]] = OrderedDict()

    def clear(self) -> None:
        self._entries.clear()

    def get(self, key: str, generation: str | None) -> Any:
        if generation is None:
            return None
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] != generation:
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: str, generation: str | None, value: Any) -> None:
        if generation is None:
            return
        self._entries[key] = (generation, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


_cache = IdentityCache()


def cache() -> IdentityCache:
    return _cache
