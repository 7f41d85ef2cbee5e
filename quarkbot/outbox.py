"""The outbox: its publication after each commit, and the relay for what that missed.

Events written in ``events.atomic()`` transactions are published right after their commit and
then deleted (:func:`publish_committed`; the delete goes with a later transaction:
``quarkbot.outbox_deletes``). A process's commits that end while its previous
publication runs are published together by the next one: one read, one Redis round trip (a
pipeline, in id order) and one delete for all of them, instead of one each.

Rows older than ``GRACE_SECONDS`` are left over: Redis was down, or the process was killed
between commit and publish, and no later commit has published them since. The relay, one per
installation (the worker's, under leader election), publishes them in id order and deletes them.
Publishing is idempotent per outbox id, so a row published twice (the relay racing a slow
publish, a relay killed before its delete) still reaches the bus once.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis.exceptions import NoScriptError, RedisError

from quarkbot import events, outbox_deletes
from quarkbot.leader import run_as_leader
from quarkbot.models import OutboxEvent

log = logging.getLogger("quarkbot.outbox")

GRACE_SECONDS = 0.5
INTERVAL_SECONDS = 0.25


@dataclass
class _Passes:
    """One event loop's publications after commits: one at a time, each covering every row up
    to the highest id asked for when it started."""

    asked: int = 0
    covered: int = 0
    running: asyncio.Future[None] | None = None


_passes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Passes] = weakref.WeakKeyDictionary()


async def publish_committed(last_id: int) -> None:
    """After a commit: publish every outbox row up to ``last_id``, oldest first.

    Older rows still there belong to publishes that failed or are in flight elsewhere: they go
    first, so that an event is never published before one committed ahead of it. Returns once a
    publication that started after this commit has ended; a failed one leaves the rows to the
    next commit's publication or the relay.
    """
    loop = asyncio.get_running_loop()
    state = _passes.setdefault(loop, _Passes())
    state.asked = max(state.asked, last_id)
    while state.covered < last_id:
        if state.running is not None:
            await asyncio.shield(state.running)
            continue
        target, state.running = state.asked, loop.create_future()
        try:
            await _publish_up_to(target)
        finally:
            state.covered = max(state.covered, target)
            state.running.set_result(None)
            state.running = None


async def _publish_up_to(last_id: int) -> int:
    """Every row up to ``last_id``, a batch at a time, until one is short or a publish fails."""
    if not events.is_installed():
        return 0
    published, after = 0, 0
    while True:
        read = await _oldest_up_to(last_id, after)
        rows = outbox_deletes.unpublished(read)
        done = await publish_rows(events.current_bus(), rows) if rows else 0
        published += done
        if len(read) < events.OUTBOX_BATCH or done < len(rows):
            return published
        after = read[-1][0]


async def _oldest_up_to(last_id: int, after: int = 0) -> list[tuple[int, str, str]]:
    """The oldest rows after ``after`` up to ``last_id`` (a batch at most). Hand-written: after
    every commit, the ORM's query building cost several times the read (``bench/orders.py``)."""
    db = OutboxEvent._choose_db(for_write=False)
    sql = _up_to_sql(str(db.capabilities.dialect))
    _, rows = await db.execute_query(sql, [last_id, after])
    return [(int(row[0]), str(row[1]), str(row[2])) for row in rows]


@functools.cache
def _up_to_sql(dialect: str) -> str:
    up_to, after = ("?", "?") if dialect == "sqlite" else ("$1", "$2")
    return (
        f'SELECT "id","channel","body" FROM "{OutboxEvent._meta.db_table}" '  # noqa: S608
        f'WHERE "id"<={up_to} AND "id">{after} ORDER BY "id" LIMIT {events.OUTBOX_BATCH}'
    )


async def _publish_oldest(at_once: bool = False, **where: object) -> int:
    """Publish the oldest rows that match ``where`` (a batch at most); returns how many."""
    rows = (
        await OutboxEvent.filter(**where)
        .order_by("id")
        .limit(events.OUTBOX_BATCH)
        .values_list("id", "channel", "body")
    )
    rows = outbox_deletes.unpublished(rows)
    return await publish_rows(events.current_bus(), rows, at_once) if rows else 0


async def publish_rows(
    bus: events.EventBus, rows: Sequence[tuple[int, str, str]], at_once: bool = False
) -> int:
    """Publish outbox rows in order, in one pipeline; delete those published (the rows before
    the first that failed), with a later transaction or, ``at_once``, now; return how many."""
    try:
        results = await _pipeline(bus, rows)
        if any(isinstance(r, NoScriptError) for r in results):  # Redis lost its scripts
            await bus.load_scripts()
            results = await _pipeline(bus, rows)
    except (RedisError, OSError, TimeoutError) as exc:
        log.warning("publishing the outbox failed (%s); retried later", type(exc).__name__)
        return 0
    published: list[int] = []
    for (outbox_id, _channel, _body), result in zip(rows, results, strict=True):
        if isinstance(result, Exception):
            log.warning("publishing outbox row %d failed (%s); retried later", outbox_id, result)
            break
        published.append(outbox_id)
    outbox_deletes.published(published)
    if at_once:
        await outbox_deletes.delete_now()
    return len(published)


async def _pipeline(bus: events.EventBus, rows: Sequence[tuple[int, str, str]]) -> list[object]:
    pipe = bus.redis.pipeline(transaction=False)
    for outbox_id, channel, body in rows:
        if channel == events.VERSION_CHANNEL:
            pipe.incr(body)  # applied twice (a relay race) is one extra reload
        elif channel == events.GENERATION_CHANNEL:
            pipe.set(body, secrets.token_hex(16))
        else:
            bus.queue_publish_once(pipe, outbox_id, channel, body)
    return list(await pipe.execute(raise_on_error=False))


async def relay_once(grace: float = GRACE_SECONDS) -> int:
    """One pass over the left-over rows, oldest first: returns how many it published."""
    # left-overs are few: deleted at once, which the relay's next pass can rely on
    since = datetime.now(UTC) - timedelta(seconds=grace)
    return await _publish_oldest(at_once=True, created_at__lt=since)


async def run_relay(interval: float = INTERVAL_SECONDS) -> None:
    """Relay until cancelled (the leader's body)."""
    while True:
        try:
            while await relay_once() == events.OUTBOX_BATCH:
                pass
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("outbox relay: Redis unavailable (%s)", type(exc).__name__)
        except Exception:
            log.exception("outbox relay pass failed")
        await asyncio.sleep(interval)


def start_in_worker() -> asyncio.Task[None]:
    """The relay of this installation, in whichever worker holds the leader key."""
    bus = events.current_bus()
    return asyncio.create_task(
        run_as_leader(bus.redis, f"{bus.prefix}:outbox:relay", run_relay), name="outbox-relay"
    )
