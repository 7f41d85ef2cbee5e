"""The event bus: every event is published once, and kept in a capped stream per channel.

The envelope is ``{"channel", "type", "seq", "ts", "data"}``. ``seq`` increases strictly per
channel: one Lua script increments the counter, appends to the stream (entry id ``<seq>-0``) and
publishes, atomically, so concurrent publishers on any process can never reorder a channel.
Plugins call :func:`publish` from web handlers and jobs alike.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from redis.asyncio import Redis

_PUBLISH_LUA = """
local seq = redis.call('INCR', KEYS[1])
local envelope = '{"seq":' .. seq .. ',' .. ARGV[1]
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], seq .. '-0', 'e', envelope)
redis.call('PUBLISH', KEYS[3], envelope)
return seq
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


class EventBus:
    def __init__(self, redis: Redis, prefix: str, stream_maxlen: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.stream_maxlen = stream_maxlen
        self._script = redis.register_script(_PUBLISH_LUA)

    @property
    def pubsub_channel(self) -> str:
        """The one pub/sub channel every web process subscribes to."""
        return f"{self.prefix}:events"

    def _seq_key(self, channel: str) -> str:
        return f"{self.prefix}:seq:{channel}"

    def _stream_key(self, channel: str) -> str:
        return f"{self.prefix}:stream:{channel}"

    async def publish(self, channel: str, type: str, data: Any = None) -> dict[str, Any]:
        ts = datetime.now(UTC).isoformat()
        body = {"channel": channel, "type": type, "ts": ts, "data": data}
        tail = dumps(body)[1:]  # the Lua script puts "seq" first
        seq = await self._script(
            keys=[self._seq_key(channel), self._stream_key(channel), self.pubsub_channel],
            args=[tail, self.stream_maxlen],
        )
        return {"channel": channel, "type": type, "seq": int(seq), "ts": ts, "data": data}

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
    """Publish one event on ``channel``; returns the envelope with its ``seq``."""
    return await current_bus().publish(channel, type, data)
