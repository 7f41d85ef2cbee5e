"""The process's Redis connections (``quarkbot.redis_send``): commands and pipelines as
redis-py's own, on TCP and unix sockets, and a write that cannot finish within the timeout fails
in time and drops its connection (the test's own ``redis-server``, SIGSTOPped)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio.connection import Connection, UnixDomainSocketConnection
from redis.exceptions import TimeoutError as RedisTimeoutError

from quarkbot import redis_send
from quarkbot.embedded_redis import EmbeddedRedis
from quarkbot.redis_conn import connect
from quarkbot.settings import Settings


@pytest.fixture
def unix_redis_url(tmp_path: Path) -> Iterator[str]:
    """An embedded ``redis-server`` of the test's own, on a unix socket."""
    embedded = EmbeddedRedis(tmp_path / "redis")
    try:
        yield embedded.ensure()
    finally:
        embedded.stop()


def test_the_pool_keeps_the_url_scheme_s_socket() -> None:
    tcp = redis_send.connection_pool("redis://127.0.0.1:1/0", socket_timeout=1)
    unix = redis_send.connection_pool("unix:///tmp/x.sock?db=2")
    assert issubclass(tcp.connection_class, redis_send.QuickSend)
    assert issubclass(tcp.connection_class, Connection)
    assert issubclass(unix.connection_class, redis_send.QuickSend)
    assert issubclass(unix.connection_class, UnixDomainSocketConnection)
    assert tcp.connection_kwargs["socket_timeout"] == 1 and unix.connection_kwargs["db"] == 2


async def test_commands_and_pipelines_on_both_sockets(
    quarkbot_settings: Settings, private_redis: tuple[str, Any], unix_redis_url: str
) -> None:
    assert unix_redis_url.startswith("unix://")
    for url in (private_redis[0], unix_redis_url):
        redis = connect(url, quarkbot_settings)
        try:
            key = "quarkbot-test:redis-send"
            big = "x" * 2_000_000  # more than a socket buffer: the drain has to wait
            assert await redis.set(key, big) is True
            assert await redis.get(key) == big.encode()
            async with redis.pipeline(transaction=False) as pipe:
                pipe.set(key, "1").incr(key).get(key)
                assert await pipe.execute() == [True, 2, b"2"]
            connection = await redis.connection_pool.get_connection()
            assert isinstance(connection, redis_send.QuickSend)
            await redis.connection_pool.release(connection)
            await redis.delete(key)
        finally:
            await redis.aclose()


async def test_a_write_that_cannot_finish_times_out_and_drops_the_connection(
    quarkbot_settings: Settings, private_redis: tuple[str, subprocess.Popen[bytes]]
) -> None:
    url, proc = private_redis
    settings = quarkbot_settings.model_copy(update={"redis_timeout_seconds": 0.5})
    redis = connect(url, settings)
    try:
        assert await redis.ping() is True
        connection = await redis.connection_pool.get_connection()
        proc.send_signal(signal.SIGSTOP)
        try:
            started = time.monotonic()
            with pytest.raises(RedisTimeoutError, match="writing"):
                # 64 MB: far more than the kernel buffers while the server reads nothing
                await connection.send_command("SET", "quarkbot-test:big", b"x" * 64_000_000)
            assert 0.4 < time.monotonic() - started < 3
            assert not connection.is_connected
        finally:
            proc.send_signal(signal.SIGCONT)
        await redis.connection_pool.release(connection)
        assert await asyncio.wait_for(redis.ping(), 5) is True  # a fresh connection works
    finally:
        await redis.aclose()
