"""/health says a worker is "starting" while its plugins' start-up hooks run (a first start
compiles numba for about a minute), not "down"."""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

import pytest

from quarkbot import hookimpl


class SlowStart:
    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    @hookimpl
    async def worker_startup(self, ctx: dict[str, Any]) -> None:
        self.entered.set()
        await self.release.wait()


@pytest.fixture
def slow() -> SlowStart:
    return SlowStart()


@pytest.fixture
def quarkbot_plugins(slow: SlowStart) -> list[tuple[str, object]]:
    return [("slowstart", slow)]


async def test_health_reports_a_starting_worker(client, run_worker, slow: SlowStart) -> None:
    before = (await (await client.get("/health")).get_json())["components"]["worker"]
    assert before["status"] == "down"
    worker = asyncio.create_task(run_worker())
    try:
        await asyncio.wait_for(slow.entered.wait(), 60)
        health = await (await client.get("/health")).get_json()
        starting = health["components"]["worker"]
        assert starting["status"] == "starting", starting
        assert starting["starting"] == [f"{socket.gethostname()}:{os.getpid()}"]
    finally:
        slow.release.set()
        await asyncio.wait_for(worker, 60)
    after = (await (await client.get("/health")).get_json())["components"]["worker"]
    assert after["status"] != "starting"
