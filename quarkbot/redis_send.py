"""Redis connections whose writes are timed without a task of their own.

redis-py bounds every write by ``socket_timeout`` with ``asyncio.wait_for``, which on Python 3.11
runs the write in a new task: about 10-15 µs of CPU per round trip, and the order path makes
several per order. Here the write goes to the transport at once (it buffers) and only the drain,
which waits just when the buffer is over its high-water mark, runs under ``asyncio.timeout``. A
write that cannot finish in time fails as redis-py's does: the connection is dropped and
``redis.exceptions.TimeoutError`` raised.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterable
from typing import Any

from redis.asyncio.connection import AbstractConnection, Connection, ConnectionPool, parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError


class QuickSend(AbstractConnection):
    """Mixed in before one of redis-py's connection classes (TCP, unix socket, TLS)."""

    async def send_packed_command(
        self, command: bytes | str | Iterable[bytes], check_health: bool = True
    ) -> None:
        if not self.is_connected:
            await self.connect()
        elif check_health:
            await self.check_health()
        if isinstance(command, str):
            command = command.encode()
        chunks = [command] if isinstance(command, bytes) else command
        writer = self._writer
        assert writer is not None  # connected above
        try:
            writer.writelines(chunks)
            async with asyncio.timeout(self.socket_timeout):
                await writer.drain()
        except TimeoutError:
            await self.disconnect(nowait=True)
            raise RedisTimeoutError("Timeout writing to socket") from None
        except OSError as exc:
            await self.disconnect(nowait=True)
            raise RedisConnectionError(f"Error while writing to socket: {exc}") from exc
        except BaseException:  # cancelled mid-write: what was sent is unknown
            await self.disconnect(nowait=True)
            raise


@functools.cache
def _quick(base: type[AbstractConnection]) -> type[AbstractConnection]:
    return type(f"Quick{base.__name__}", (QuickSend, base), {"__module__": __name__})


def connection_pool(url: str, **options: Any) -> ConnectionPool:
    """``ConnectionPool.from_url(url, **options)`` whose connections are :class:`QuickSend`
    (redis-py's ``from_url`` lets the URL's scheme override a ``connection_class`` option)."""
    options = {**options, **parse_url(url)}
    options["connection_class"] = _quick(options.get("connection_class", Connection))
    return ConnectionPool(**options)
