"""The event bus: every event is published once, and kept in a capped stream per channel.

The envelope is ``{"channel", "type", "seq", "ts", "data"}``. ``seq`` increases strictly per
channel: one Lua script increments the counter, appends to the stream (entry id ``<seq>-0``) and
publishes, atomically, so concurrent publishers on any process can never reorder a channel.
Plugins call :func:`publish` from web handlers and jobs alike.

Transactional outbox: inside ``async with events.atomic():`` (a database transaction),
:func:`publish` writes the event to the outbox table in that transaction instead, so that it
exists exactly when the change it describes does. Right after the commit the process publishes
the outbox rows up to its own, oldest first, and deletes them (low latency); what that misses
(Redis down, the process killed between commit and publish) the next commit's publish or the
relay (``quarkbot.outbox``, in the worker, under leader election) publishes later. Publishing an
outbox row is idempotent (keyed by its outbox id, in the Lua script that assigns ``seq``): at
least once from the outbox, never twice on the bus. Order: an event committed before another
began is published first (it has the smaller id and is still in the table until published).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextvars import ContextVar
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from redis.asyncio import Redis

from quarkbot import outbox_rows, sqlite_transaction

log = logging.getLogger("quarkbot.events")

#: seconds an outbox event's "published" marker is kept while its row may still be in the
#: outbox (covers the relay's lag after an outage) ...
DONE_TTL_SECONDS = 7 * 24 * 3600
#: ... and once its row is deleted, when it only guards a publication that read the row just
#: before the delete (a marker per event kept for a week would fill Redis under load)
DONE_AFTER_DELETE_SECONDS = 600
OUTBOX_BATCH = 500

_PUBLISH_LUA = """
local seq = redis.call('INCR', KEYS[1])
local envelope = '{"seq":' .. seq .. ',' .. ARGV[1]
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], seq .. '-0', 'e', envelope)
redis.call('PUBLISH', KEYS[3], envelope)
return seq
"""


# KEYS: seq, stream, pub/sub channel, done marker; ARGV: tail, maxlen, marker ttl
_PUBLISH_ONCE_LUA = """
local done = redis.call('GET', KEYS[4])
if done then return tonumber(done) end
local seq = redis.call('INCR', KEYS[1])
local envelope = '{"seq":' .. seq .. ',' .. ARGV[1]
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], seq .. '-0', 'e', envelope)
redis.call('PUBLISH', KEYS[3], envelope)
redis.call('SET', KEYS[4], seq, 'EX', ARGV[3])
return seq
"""


# KEYS: "published" markers; ARGV: their new time to live
_EXPIRE_ALL_LUA = """
for _, marker in ipairs(KEYS) do redis.call('EXPIRE', marker, ARGV[1]) end
return #KEYS
"""


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError(f"cannot publish a {type(value).__name__}")


def dumps(value: Any) -> str:
    return json.dumps(value, default=_default, separators=(",", ":"))


def envelope_tail(channel: str, type: str, data: Any) -> tuple[str, str]:
    """(ts, the envelope's JSON without its opening brace): the Lua scripts put ``seq`` first."""
    ts = datetime.now(UTC).isoformat()
    return ts, dumps({"channel": channel, "type": type, "ts": ts, "data": data})[1:]


class EventBus:
    def __init__(self, redis: Redis, prefix: str, stream_maxlen: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.stream_maxlen = stream_maxlen
        self._script = redis.register_script(_PUBLISH_LUA)
        self._once = redis.register_script(_PUBLISH_ONCE_LUA)
        self._expire_all = redis.register_script(_EXPIRE_ALL_LUA)

    @property
    def pubsub_channel(self) -> str:
        """The one pub/sub channel every web process subscribes to."""
        return f"{self.prefix}:events"

    def _seq_key(self, channel: str) -> str:
        return f"{self.prefix}:seq:{channel}"

    def _stream_key(self, channel: str) -> str:
        return f"{self.prefix}:stream:{channel}"

    async def publish(self, channel: str, type: str, data: Any = None) -> dict[str, Any]:
        ts, tail = envelope_tail(channel, type, data)
        seq = await self._script(
            keys=[self._seq_key(channel), self._stream_key(channel), self.pubsub_channel],
            args=[tail, self.stream_maxlen],
        )
        return {"channel": channel, "type": type, "seq": int(seq), "ts": ts, "data": data}

    async def publish_once(self, outbox_id: int, channel: str, tail: str) -> int:
        """Publish an outbox event unless it was already: its ``seq`` either way."""
        seq = await self._once(
            keys=[
                self._seq_key(channel),
                self._stream_key(channel),
                self.pubsub_channel,
                self.done_key(outbox_id),
            ],
            args=[tail, self.stream_maxlen, DONE_TTL_SECONDS],
        )
        return int(seq)

    def queue_publish_once(self, pipe: Any, outbox_id: int, channel: str, tail: str) -> None:
        """:meth:`publish_once` queued on a pipeline (``EVALSHA``: the caller loads the script
        when Redis answers that it does not know it)."""
        keys = [
            self._seq_key(channel),
            self._stream_key(channel),
            self.pubsub_channel,
            self.done_key(outbox_id),
        ]
        pipe.evalsha(self._once.sha, len(keys), *keys, tail, self.stream_maxlen, DONE_TTL_SECONDS)

    async def shorten_markers(self, outbox_ids: Sequence[int], ttl: int) -> None:
        """Give these rows' "published" markers ``ttl`` seconds to live: one command for all
        (a pipeline of one ``EXPIRE`` each cost more to build and parse than to run)."""
        await self._expire_all(keys=[self.done_key(i) for i in outbox_ids], args=[ttl])

    def done_key(self, outbox_id: int) -> str:
        """The marker that outbox row ``outbox_id`` was published (its ``seq``)."""
        return f"{self.prefix}:outbox:done:{outbox_id}"

    async def load_scripts(self) -> None:
        await self.redis.script_load(_PUBLISH_ONCE_LUA)
        await self.redis.script_load(_PUBLISH_LUA)

    async def last_seq(self, channel: str) -> int:
        value = await self.redis.get(self._seq_key(channel))
        return int(value or 0)

    async def replay(self, channel: str, after_seq: int, limit: int = 10_000) -> list[str] | None:
        """Envelopes (JSON) with seq > ``after_seq``, oldest first; None when that history is gone.

        Gone means trimmed from the stream, or ``after_seq`` is ahead of the channel: Redis lost
        its data (restarted without persistence) and the channel's ``seq`` started over.
        """
        last = await self.last_seq(channel)
        if after_seq > last:
            return None
        if after_seq == last:
            return []
        entries = await self.redis.xrange(
            self._stream_key(channel), min=f"{after_seq + 1}-0", max="+", count=limit
        )
        if not entries or int(entries[0][0].split(b"-")[0]) != after_seq + 1:
            return None
        return [fields[b"e"].decode() for _id, fields in entries]

    async def event_at(self, channel: str, seq: int) -> str | None:
        """The envelope (JSON) with this ``seq``, while the stream still holds it."""
        if seq <= 0:
            return None
        entries = await self.redis.xrange(
            self._stream_key(channel), min=f"{seq}-0", max=f"{seq}-0", count=1
        )
        return entries[0][1][b"e"].decode() if entries else None


_bus: EventBus | None = None


def install(bus: EventBus | None) -> None:
    """Make ``bus`` the process's bus (done by the web app and the worker at start-up)."""
    global _bus
    _bus = bus


def is_installed() -> bool:
    return _bus is not None


def current_bus() -> EventBus:
    if _bus is None:
        raise RuntimeError("the event bus is not running in this process")
    return _bus


async def publish(channel: str, type: str, data: Any = None) -> dict[str, Any]:
    """Publish one event on ``channel``; returns the envelope with its ``seq``.

    Inside :func:`atomic` the event goes to the outbox in the transaction instead and is
    published after the commit; the envelope returned then has ``seq`` None.
    """
    if outbox_rows.current() is None:
        return await current_bus().publish(channel, type, data)
    ts, tail = envelope_tail(channel, type, data)
    await outbox_rows.add(channel, tail)
    return {"channel": channel, "type": type, "seq": None, "ts": ts, "data": data}


def in_outbox_transaction() -> bool:
    """True inside :func:`atomic`: :func:`publish` writes to the outbox in the transaction, and
    a failure there means the change cannot commit with its event."""
    return outbox_rows.current() is not None


#: Outbox rows on this channel are not events but version bumps (``quarkbot.cache_version``):
#: the body is the Redis key to INCR, applied in id order with the events around them.
VERSION_CHANNEL = "quarkbot:version"


#: ... and on this one renewals of a generation (``quarkbot.identity_cache``): the key is SET to
#: a new random value.
GENERATION_CHANNEL = "quarkbot:generation"


async def write_version_bump(redis_key: str) -> bool:
    """Inside :func:`atomic`: the INCR of ``redis_key`` goes to the outbox, applied after the
    commit like an event (so a crash between the commit and the bump cannot lose it: the relay
    applies it). False outside a transaction: the caller bumps at once."""
    return await _write_redis_change(VERSION_CHANNEL, redis_key)


async def write_generation_renewal(redis_key: str) -> bool:
    """The same for a generation: ``redis_key`` gets a new random value after the commit."""
    return await _write_redis_change(GENERATION_CHANNEL, redis_key)


async def _write_redis_change(channel: str, redis_key: str) -> bool:
    if outbox_rows.current() is None:
        return False
    await outbox_rows.add(channel, redis_key)
    return True


#: called after the commit, before the direct publish (tests inject a crash here)
after_commit_hooks: list[Callable[[], None]] = []

#: awaited inside the outermost transaction right before its commit (a failure rolls it back):
#: the host appends the request's audit row there (``quarkbot.request_audit``)
before_commit_hooks: list[Callable[[], Awaitable[None]]] = []

_on_commit: ContextVar[list[Callable[[], Awaitable[None]]] | None] = ContextVar(
    "quarkbot_outbox_on_commit", default=None
)


def on_commit(callback: Callable[[], Awaitable[None]]) -> None:
    """Inside :func:`atomic`: await ``callback`` after the outermost commit, before that
    transaction's events are published (a rollback drops it; a failure is logged). Hooks that
    must see a change before clients hear of it go here (trading's ``on_order_event``)."""
    callbacks = _on_commit.get()
    if callbacks is None:
        raise RuntimeError("events.on_commit() outside events.atomic()")
    callbacks.append(callback)


_on_end: ContextVar[list[Callable[[bool], None]] | None] = ContextVar(
    "quarkbot_outbox_on_end", default=None
)


def on_end(callback: Callable[[bool], None]) -> None:
    """Inside :func:`atomic`: call ``callback(committed)`` as soon as the outermost transaction
    has ended, committed or rolled back, before anything else (the audit log releases its
    append lock there). It must not block or raise."""
    ends = _on_end.get()
    if ends is None:
        raise RuntimeError("events.on_end() outside events.atomic()")
    ends.append(callback)


@contextlib.asynccontextmanager
async def atomic(connection_name: str | None = None, brief: bool = False) -> AsyncIterator[Any]:
    """A database transaction whose :func:`publish` calls are written to the outbox in it.

    ``async with events.atomic() as conn:`` instead of tortoise's ``in_transaction()``. Nested
    inside another ``atomic``, the events are published after the outermost commit. Nested in a
    bare ``in_transaction()`` (which has no word of its commit), they are left to the next
    commit's publish or the relay, never published before they are committed.

    ``brief``: a few indexed statements (the order path's); on SQLite they run in the event
    loop once the write lock is held (``quarkbot.sqlite_transaction.brief``). Ignored elsewhere.
    """
    from tortoise.transactions import in_transaction

    from quarkbot import outbox, outbox_deletes

    if outbox_rows.current() is not None:
        async with in_transaction(connection_name) as conn:
            yield conn
        return
    callbacks: list[Callable[[], Awaitable[None]]] = []
    ends: list[Callable[[bool], None]] = []
    callbacks_token, ends_token = _on_commit.set(callbacks), _on_end.set(ends)
    committed = False
    try:
        with outbox_rows.collecting() as pending:
            # the transaction's begin takes the mark: the body's own transactions are not brief
            # inside a bare ``in_transaction()`` this is a savepoint: the outer one may roll back
            deletes = connection_name is None and not _still_in_a_transaction(None)
            with sqlite_transaction.brief() if brief else contextlib.nullcontext():
                async with in_transaction(connection_name) as conn:
                    yield conn
                    if deletes:  # published rows' delete, with this commit
                        await outbox_deletes.with_transaction()
                    for before in before_commit_hooks:
                        await before()
                    await outbox_rows.write(conn)
        committed = True
    finally:
        _on_commit.reset(callbacks_token)
        _on_end.reset(ends_token)
        for end in ends:
            end(committed)
    for hook in after_commit_hooks:
        hook()
    for callback in callbacks:
        try:
            await callback()
        except Exception:  # committed: a follower's failure does not undo it
            log.exception("an on_commit callback failed")
    if pending.rows and _still_in_a_transaction(connection_name):
        # inside a bare ``in_transaction()``: this was a savepoint, the rows are not committed
        # and may still roll back; the next commit's publish or the relay takes them
        return
    if pending.rows:
        try:
            await outbox.publish_committed(pending.last_id)
        except Exception:  # committed: the relay publishes what this could not
            log.exception("publishing after commit failed")


def _still_in_a_transaction(connection_name: str | None) -> bool:
    from tortoise import connections
    from tortoise.backends.base.client import TransactionalDBClient

    return isinstance(connections.get(connection_name or "default"), TransactionalDBClient)
