"""Leader election over a real Redis: one leader at a time, and fail-over."""

import asyncio
import contextlib
import uuid

from redis.asyncio import Redis

from quarkbot.leader import run_as_leader
from quarkbot.utils import cancel_and_wait


async def test_one_leader_then_failover(redis_url):
    redis = Redis.from_url(redis_url)
    key = f"qbtest-{uuid.uuid4().hex}:leader"
    running: list[str] = []
    seen: set[str] = set()

    def body(name: str):
        async def run() -> None:
            running.append(name)
            seen.add(name)
            try:
                await asyncio.Event().wait()
            finally:
                running.remove(name)

        return run

    first = asyncio.create_task(run_as_leader(redis, key, body("a"), ttl=0.6))
    second = asyncio.create_task(run_as_leader(redis, key, body("b"), ttl=0.6))
    try:
        for _ in range(20):
            await asyncio.sleep(0.1)
            assert len(running) <= 1
        assert len(running) == 1
        leader = running[0]
        (first if leader == "a" else second).cancel()
        for _ in range(40):
            await asyncio.sleep(0.1)
            assert len(running) <= 1
            if running and running[0] != leader:
                break
        assert running and running[0] != leader
        assert seen == {"a", "b"}
    finally:
        for task in (first, second):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await redis.delete(key)
        await redis.aclose()


async def test_cancel_and_wait_keeps_the_callers_own_cancellation():
    """A cancel that reaches the caller while it waits for a child must not be swallowed
    (it was, with ``suppress(CancelledError)``, and the feed leader then never stopped)."""

    async def slow_to_stop() -> None:
        try:
            await asyncio.sleep(30)
        finally:
            await asyncio.sleep(0.3)

    child = asyncio.create_task(slow_to_stop())
    await asyncio.sleep(0)

    async def stopping_the_child() -> None:
        await cancel_and_wait(child)
        await asyncio.sleep(30)  # reached only if our cancellation was lost

    parent = asyncio.create_task(stopping_the_child())
    await asyncio.sleep(0.05)
    parent.cancel()
    await asyncio.wait_for(asyncio.wait({parent}), 2)
    assert parent.cancelled()
    await asyncio.wait_for(asyncio.wait({child}), 2)
    assert child.cancelled()


async def test_cancel_and_wait_stops_a_task_that_swallows_its_cancel():
    """Python 3.11's ``wait_for`` (used by redis-py) can lose a cancel; the task must still end."""
    swallowed = 0

    async def stubborn() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                swallowed += 1
                if swallowed == 1:
                    continue  # loses the first cancel, like the wait_for race does
                raise

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    await asyncio.wait_for(cancel_and_wait(task, recancel_after=0.05), 2)
    assert task.cancelled() and swallowed == 2
