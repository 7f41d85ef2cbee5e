"""Published outbox rows are deleted with this process's next ``events.atomic()`` transaction
(on SQLite a deferred statement of it: no write transaction of their own), or by one
transaction of their own when none comes within ``DELETE_AFTER_SECONDS``; until their delete
has committed, a publication skips them (``quarkbot.outbox_deletes``). On SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from quarkbot import events, outbox, outbox_deletes
from quarkbot.events import EventBus
from quarkbot.models import JobEffect, OutboxEvent
from quarkbot.settings import Settings
from quarkbot.testing import counting_commits

from .helpers import installed_bus

CHANNEL = "orders"


@pytest.fixture
async def bus(quarkbot_settings: Settings) -> AsyncIterator[EventBus]:
    async with installed_bus(quarkbot_settings) as bus:
        yield bus


async def change(key: str, publish: bool = True) -> None:
    async with events.atomic(brief=True):
        await JobEffect.create(key=key)
        if publish:
            await events.publish(CHANNEL, "order.created", {"key": key})


async def outbox_ids() -> list[int]:
    return list(await OutboxEvent.all().order_by("id").values_list("id", flat=True))


async def wait_until_empty(seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if not await outbox_ids():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"outbox rows left: {await outbox_ids()}")


@pytest.fixture
def slow_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Published rows wait a minute for a transaction (none is deleted by the timer here)."""
    monkeypatch.setattr(outbox_deletes, "DELETE_AFTER_SECONDS", 60.0)


def on_sqlite(settings: Settings) -> bool:
    return settings.database_url.startswith("sqlite")


async def test_the_next_transaction_deletes_the_published_rows(
    bus: EventBus, quarkbot_settings: Settings, slow_timer: None
) -> None:
    seq = await bus.last_seq(CHANNEL)
    await change(f"{bus.prefix}:one")
    assert await bus.last_seq(CHANNEL) == seq + 1  # published at once ...
    assert len(await outbox_ids()) == 1  # ... its delete waits
    with counting_commits() as committed:
        await change(f"{bus.prefix}:two", publish=False)
    assert len(committed) == 1
    if on_sqlite(quarkbot_settings):
        assert await outbox_ids() == []  # deleted with that commit: no transaction of its own
    else:
        assert len(await outbox_ids()) == 1  # PostgreSQL defers nothing: the timer deletes it
        await outbox_deletes.delete_now()
        assert await outbox_ids() == []
    assert await JobEffect.filter(key__startswith=bus.prefix).count() == 2


async def test_without_a_transaction_a_delete_of_its_own_follows(bus: EventBus) -> None:
    await change(f"{bus.prefix}:alone")
    assert len(await outbox_ids()) == 1
    await asyncio.sleep(outbox_deletes.DELETE_AFTER_SECONDS)
    await wait_until_empty(2.0)


async def test_a_rolled_back_transaction_leaves_the_delete_to_the_next(
    bus: EventBus, slow_timer: None
) -> None:
    await change(f"{bus.prefix}:kept")
    published = await outbox_ids()
    with pytest.raises(RuntimeError):
        async with events.atomic(brief=True):
            await JobEffect.create(key=f"{bus.prefix}:lost")
            raise RuntimeError("rolled back, with the delete it carried")
    assert not await JobEffect.filter(key=f"{bus.prefix}:lost").exists()
    assert await outbox_ids() == published  # still there, still waiting
    await change(f"{bus.prefix}:next", publish=False)
    await outbox_deletes.delete_now()  # PostgreSQL: the timer's delete, now
    assert await outbox_ids() == []


async def test_a_publication_skips_rows_published_and_not_yet_deleted(
    bus: EventBus, slow_timer: None
) -> None:
    seq = await bus.last_seq(CHANNEL)
    await change(f"{bus.prefix}:first")
    [first] = await outbox_ids()
    assert outbox_deletes.unpublished([(first, CHANNEL, "{}")]) == []
    assert await outbox._publish_up_to(first) == 0  # read, skipped: not published again
    assert await outbox_ids() == [first]
    assert await bus.last_seq(CHANNEL) == seq + 1
    await outbox_deletes.delete_now()
    assert await outbox_ids() == []
    # once deleted, nothing is remembered of it
    assert outbox_deletes.unpublished([(first, CHANNEL, "{}")]) == [(first, CHANNEL, "{}")]


async def test_the_relay_deletes_what_it_publishes_at_once(bus: EventBus) -> None:
    def crash() -> None:
        events.after_commit_hooks.remove(crash)
        raise RuntimeError("the process dies between commit and publish")

    events.after_commit_hooks.append(crash)
    with pytest.raises(RuntimeError):
        await change(f"{bus.prefix}:orphan")
    assert len(await outbox_ids()) == 1
    assert await outbox.relay_once(grace=0) == 1
    assert await outbox_ids() == []


async def test_closing_the_database_deletes_the_waiting_rows_first(
    quarkbot_settings: Settings, slow_timer: None, caplog: pytest.LogCaptureFixture
) -> None:
    from quarkbot import db

    async with installed_bus(quarkbot_settings) as bus:
        await change(f"{bus.prefix}:last")
        assert len(await outbox_ids()) == 1
        outbox_deletes.DELETE_AFTER_SECONDS = 0.0  # the timer is due: it races the close
        await change(f"{bus.prefix}:racing", publish=True)
    # closed by now, the timer stopped: nothing used the closing connection
    await asyncio.sleep(0.1)
    assert "published outbox rows failed" not in caplog.text
    await db.init_db(db.tortoise_config(quarkbot_settings, {"quarkbot": ["quarkbot.models"]}))
    try:
        assert await outbox_ids() == []  # both deleted before the close
    finally:
        await db.close_db()
