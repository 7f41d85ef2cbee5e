"""The Redis round trips of one order's gates, counted on a Redis of its own (MONITOR), so that
batching them cannot regress silently.

Placing an order reads the versions of its cached state in one MGET (the instruments' and the
risk gate's, ``cache_version.batch``), and the re-check right before the broker call re-reads only
the gate state's version (one GET). That a kill switch set between the two still stops the
order is ``test_kill_switch.py::test_an_order_already_in_the_pipeline_is_not_sent``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from quarkbot import cache_version
from quarkbot_plugins.risk import gate_version
from quarkbot_plugins.trading.testing import place

GATE = "version:risk:gate"
INSTRUMENTS = "version:market_data:instruments"


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An embedded redis-server for this module only: MONITOR sees only these tests."""
    from quarkbot.embedded_redis import EmbeddedRedis

    embedded = EmbeddedRedis(Path(tmp_path_factory.mktemp("redis-round-trips")))
    url = embedded.ensure()
    try:
        yield url
    finally:
        embedded.stop()


async def _commands_of(redis_url: str, prefix: str, action: Any) -> list[list[str]]:
    """The commands (name and arguments) the app sent on its own keys while ``action`` ran,
    as MONITOR saw them; commands run inside Lua scripts are left out (one EVALSHA is one)."""
    seen: list[dict[str, Any]] = []
    marker = f"round-trips-done-{uuid.uuid4().hex}"
    monitor_client = Redis.from_url(redis_url)
    other = Redis.from_url(redis_url)
    try:
        async with monitor_client.monitor() as monitor:
            await monitor.connect()

            async def read() -> None:
                async for command in monitor.listen():
                    seen.append(command)
                    if marker in command["command"]:
                        return

            reader = asyncio.create_task(read())
            await asyncio.sleep(0.1)
            await action()
            await other.get(marker)  # MONITOR delivers in order: everything before it is in
            await asyncio.wait_for(reader, 10)
    finally:
        await other.aclose()
        await monitor_client.aclose()
    return [
        c["command"].split()
        for c in seen
        if f"{prefix}:" in c["command"] and c.get("client_type") != "lua"
    ]


def _reads_of(commands: list[list[str]], suffix: str) -> list[list[str]]:
    return [c for c in commands if any(arg.endswith(suffix) for arg in c[1:])]


async def test_one_order_reads_the_gate_version_in_the_batch_then_once_alone(
    app, client, admin, instruments, redis_url
):
    prefix = app.extensions["quarkbot"].settings.redis_prefix
    status, _ = await place(client, admin, client_order_id="warm", symbol="AAPL", quantity="1")
    assert status == 201

    async def one_order() -> None:
        status, body = await place(client, admin, client_order_id="rt", symbol="AAPL", quantity="1")
        assert status == 201 and body["status"] == "ACCEPTED", body

    commands = await _commands_of(redis_url, prefix, one_order)
    names = [c[0].upper() for c in commands]
    gate = _reads_of(commands, GATE)
    # check phase: the gate's version in the order's batch, with the instruments' version
    assert [c[0].upper() for c in gate] == ["MGET", "GET"], commands
    assert any(arg.endswith(INSTRUMENTS) for arg in gate[0]), commands
    assert not [c for c in _reads_of(commands, INSTRUMENTS) if c[0].upper() != "MGET"], commands
    # pre_submit: only the version (the quote was read once, for the check)
    assert len(_reads_of(commands, ":quote:AAPL")) == 1, commands
    assert names.count("GET") + names.count("MGET") + names.count("HGETALL") <= 4, commands


async def test_a_batched_version_serves_one_read_then_redis_again(app):
    """Missing versions are created by the batch; a bump after the batched read is seen by the
    next read of the same block (the re-check), and a block's values do not leak out of it."""
    async with cache_version.batch(cache_version.ORDER):
        first = await gate_version.current_version()
        await gate_version.bump()
        second = await gate_version.current_version()
    assert first is not None and second is not None
    assert second == (first[0], first[1] + 1)
    async with cache_version.batch(cache_version.ORDER):
        pass  # read, never taken
    await gate_version.bump()
    after = await gate_version.current_version()
    assert after is not None and after[1] == first[1] + 2
