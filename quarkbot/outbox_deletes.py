"""Published outbox rows, deleted without a write transaction of their own.

A publication after a commit used to delete its rows in a transaction of its own: on SQLite one
more turn of the file's single write lock for every transaction that published anything (the
order path's two write transactions became four). Here published rows wait until this process's
next ``events.atomic()`` transaction commits anyway: on SQLite their delete goes with it as a
deferred statement (no trip of its own: ``quarkbot.deferred_writes``). If none comes within
``DELETE_AFTER_SECONDS``, or the database defers nothing (PostgreSQL, where it would be one more
round trip while that transaction holds its row locks), one transaction deletes every row
waiting by then.

Until their delete has committed, this process's publications skip the rows
(:func:`unpublished`). Another process's relay may publish one again meanwhile, and so may the
relay after a crash: the bus drops it (publishing is idempotent per outbox id). Once deleted,
the rows' "published" markers are shortened together a moment later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from redis.exceptions import RedisError

from quarkbot import db, events
from quarkbot.deferred_writes import defers, write_later
from quarkbot.models import OutboxEvent

log = logging.getLogger("quarkbot.outbox")

#: how long published rows wait for a transaction of this process to delete them with
DELETE_AFTER_SECONDS = 0.05
#: how long deleted rows' markers wait to be shortened together
SHORTEN_AFTER_SECONDS = 0.05

Row = TypeVar("Row", bound=Sequence[object])


@dataclass
class _Waiting:
    """One event loop's published rows: ``ids`` in no delete yet, ``unfinished`` not deleted."""

    ids: list[int] = field(default_factory=list)
    unfinished: set[int] = field(default_factory=set)
    task: asyncio.Task[None] | None = None


_waiting: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Waiting] = (
    weakref.WeakKeyDictionary()
)


def _here() -> _Waiting:
    return _waiting.setdefault(asyncio.get_running_loop(), _Waiting())


def published(ids: Sequence[int]) -> None:
    """These rows are on the bus: delete them (see above)."""
    state = _here()
    state.ids.extend(ids)
    state.unfinished.update(ids)
    if state.task is None:
        state.task = asyncio.get_running_loop().create_task(_delete_soon(state))


def unpublished(rows: Sequence[Row]) -> list[Row]:
    """``rows`` (id first) without those this process published and has not deleted yet."""
    state = _waiting.get(asyncio.get_running_loop())
    if state is None or not state.unfinished:
        return list(rows)
    return [row for row in rows if row[0] not in state.unfinished]


async def with_transaction() -> None:
    """Inside the outermost ``events.atomic()``, before its commit: the waiting rows' delete
    as a deferred statement of it, where the database defers statements."""
    state = _waiting.get(asyncio.get_running_loop())
    if state is None or not state.ids:
        return
    db = OutboxEvent._choose_db(for_write=True)
    if not defers(db):
        return
    ids, state.ids = state.ids, []
    await write_later(OutboxEvent.filter(id__in=ids).using_db(db).delete())
    events.on_end(lambda committed: _ended(state, ids, committed))


def _ended(state: _Waiting, ids: list[int], committed: bool) -> None:
    if committed:
        _deleted(state, ids)
        return
    state.ids.extend(ids)  # rolled back with that transaction: wait for the next one
    if state.task is None:
        state.task = asyncio.get_running_loop().create_task(_delete_soon(state))


async def _delete_soon(state: _Waiting) -> None:
    try:
        while True:
            await asyncio.sleep(DELETE_AFTER_SECONDS)
            if not state.ids:
                return
            await _delete(state)
    finally:
        state.task = None


async def delete_now() -> None:
    """Delete every published row of this process now (tests, and before a process stops)."""
    await _delete(_here())


async def before_close() -> None:
    """Before the database closes: the timer stopped and the waiting rows deleted now (those a
    stopped delete had taken are left to the relay, which publishes nothing twice)."""
    state = _waiting.get(asyncio.get_running_loop())
    if state is None:
        return
    task = state.task
    if task is not None and task is not asyncio.current_task():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await _delete(state)


async def _delete(state: _Waiting) -> None:
    ids, state.ids = state.ids, []
    if not ids:
        return
    try:
        await _delete_rows(ids)
    except Exception:  # the relay publishes them again (a no-op) and deletes them
        log.exception("deleting %d published outbox rows failed", len(ids))
        state.unfinished.difference_update(ids)
        return
    _deleted(state, ids)


async def _delete_rows(ids: list[int]) -> None:
    """One statement: on SQLite in a brief transaction (it polls for the write lock from the
    event loop instead of sleeping in SQLite's busy handler while the process's other
    transactions wait); elsewhere on its own, without a BEGIN and a COMMIT around it."""
    if OutboxEvent._choose_db(for_write=True).capabilities.dialect != "sqlite":
        await OutboxEvent.filter(id__in=ids).delete()
        return
    async with db.brief_transaction():
        await OutboxEvent.filter(id__in=ids).delete()


def _deleted(state: _Waiting, ids: list[int]) -> None:
    state.unfinished.difference_update(ids)
    if events.is_installed():
        bus = events.current_bus()
        _shortenings.setdefault(bus, _Shortening(bus)).add(ids)


@dataclass
class _Shortening:
    """The markers of deleted rows, shortened together a moment later (one Redis round trip
    for every delete of that moment); nobody waits for it, as it only saves Redis memory."""

    bus: events.EventBus
    ids: list[int] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    def add(self, ids: Sequence[int]) -> None:
        self.ids.extend(ids)
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        await asyncio.sleep(SHORTEN_AFTER_SECONDS)
        bus, ids, self.ids, self.task = self.bus, self.ids, [], None
        try:
            await bus.shorten_markers(ids, events.DONE_AFTER_DELETE_SECONDS)
        except (RedisError, OSError, TimeoutError) as exc:  # they expire in a week instead
            log.warning("shortening outbox markers failed (%s)", type(exc).__name__)


_shortenings: weakref.WeakKeyDictionary[events.EventBus, _Shortening] = weakref.WeakKeyDictionary()
