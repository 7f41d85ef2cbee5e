"""Shared reads (``quarkbot.shared_reads``): callers of one turn of the event loop share one
read, a caller never gets a read sent before it arrived, and one caller's cancellation or a
failed read behaves as it would for a read of its own."""

from __future__ import annotations

import asyncio

import pytest

from quarkbot import shared_reads


class Source:
    """A value that changes, and the reads of it, counted; ``gate`` holds a read in flight."""

    def __init__(self) -> None:
        self.value = 0
        self.reads = 0
        self.gate = asyncio.Event()
        self.gate.set()

    async def read(self) -> int:
        self.reads += 1
        seen = self.value  # the read is "sent" here
        await self.gate.wait()
        return seen


async def test_callers_of_one_turn_share_one_read() -> None:
    source = Source()
    results = await asyncio.gather(*(shared_reads.shared("k", source.read) for _ in range(20)))
    assert results == [0] * 20 and source.reads == 1
    assert await shared_reads.shared("other", source.read) == 0 and source.reads == 2


async def test_a_caller_after_the_read_was_sent_gets_a_read_of_its_own() -> None:
    source = Source()
    source.gate.clear()
    first = asyncio.ensure_future(shared_reads.shared("k", source.read))
    for _ in range(3):
        await asyncio.sleep(0)
    assert source.reads == 1  # sent, waiting for its answer
    source.value = 1  # changed before the next caller arrives: it must see it
    second = asyncio.ensure_future(shared_reads.shared("k", source.read))
    for _ in range(3):
        await asyncio.sleep(0)
    source.gate.set()
    assert (await first, await second) == (0, 1) and source.reads == 2


async def test_one_caller_cancelled_leaves_the_read_to_the_others() -> None:
    source = Source()
    source.gate.clear()
    cancelled = asyncio.ensure_future(shared_reads.shared("k", source.read))
    kept = asyncio.ensure_future(shared_reads.shared("k", source.read))
    for _ in range(3):
        await asyncio.sleep(0)
    cancelled.cancel()
    source.gate.set()
    assert await kept == 0 and source.reads == 1
    with pytest.raises(asyncio.CancelledError):
        await cancelled


async def test_a_failed_read_fails_every_caller_and_the_next_read_is_new() -> None:
    calls = 0

    async def failing() -> int:
        nonlocal calls
        calls += 1
        raise ConnectionError("down")

    results = await asyncio.gather(
        *(shared_reads.shared("k", failing) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, ConnectionError) for r in results) and calls == 1
    with pytest.raises(ConnectionError):
        await shared_reads.shared("k", failing)
    assert calls == 2
