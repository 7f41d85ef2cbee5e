"""The outbox rows of the current ``events.atomic()``, and when they are written.

On SQLite each row is written at once (``deferred_writes.insert_later``: it goes with the
transaction's next statement anyway). On PostgreSQL a statement is a round trip: an order and
its fill publish about six events, each one ``INSERT`` of its own. There the rows wait and go
in one ``INSERT`` of several rows at the next boundary of the transaction:

- before its commit (``events.atomic`` calls :func:`write`),
- before a savepoint begins and before one is released (``quarkbot.postgres_backend``), so a
  row belongs to the savepoint it was published in, and
- a savepoint rolled back drops the rows not written yet: they were published inside it.

The order of the rows, and so of their ids, is the order they were published in.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tortoise.backends.base.client import BaseDBAsyncClient

from quarkbot.deferred_writes import insert_later
from quarkbot.types import utc_now

if TYPE_CHECKING:  # imported when first used: models come after tortoise_speedups.install()
    from quarkbot.models import OutboxEvent

#: rows per statement at most (PostgreSQL takes 65,535 parameters; three per row)
CHUNK = 500


@dataclass
class PendingRows:
    """One outermost ``atomic``'s rows: all of them (for the publication after the commit) and
    how many of them are written."""

    rows: list[OutboxEvent] = field(default_factory=list)
    written: int = 0

    @property
    def last_id(self) -> int:
        return max(int(row.id) for row in self.rows)


_current: ContextVar[PendingRows | None] = ContextVar("quarkbot_outbox_rows", default=None)


def current() -> PendingRows | None:
    """The rows of the ``atomic`` this runs in, or None outside one."""
    return _current.get()


@contextmanager
def collecting() -> Iterator[PendingRows]:
    pending = PendingRows()
    token = _current.set(pending)
    try:
        yield pending
    finally:
        _current.reset(token)


def waits_for_boundary(db: BaseDBAsyncClient) -> bool:
    """Whether rows written on ``db`` (a transaction's client) wait for its next boundary."""
    return bool(getattr(db, "batches_outbox_rows", False))


async def add(channel: str, body: str) -> None:
    """Inside ``atomic``: an outbox row, written now or at the transaction's next boundary."""
    pending = _current.get()
    if pending is None:
        raise RuntimeError("outbox_rows.add() outside events.atomic()")
    from quarkbot.models import OutboxEvent

    row = OutboxEvent(channel=channel, body=body)
    db = OutboxEvent._choose_db(for_write=True)
    if waits_for_boundary(db):
        pending.rows.append(row)
        return
    await insert_later(row, db)
    pending.rows.append(row)
    pending.written = len(pending.rows)


async def write(db: BaseDBAsyncClient) -> None:
    """Write the rows that wait, in one statement, on ``db`` (the transaction's client)."""
    pending = _current.get()
    if pending is None or pending.written == len(pending.rows):
        return
    now = utc_now()
    while pending.written < len(pending.rows):
        rows = pending.rows[pending.written : pending.written + CHUNK]
        values: list[Any] = []
        for row in rows:
            row.created_at = now
            values += [row.channel, row.body, now]
        stored = await db.execute_query_dict(_insert_sql(len(rows)), values)
        for row, row_id in zip(rows, sorted(int(r["id"]) for r in stored), strict=True):
            row.id, row._saved_in_db = row_id, True
        pending.written += len(rows)


def discard_unwritten() -> None:
    """A savepoint rolled back: the rows that wait were published inside it."""
    pending = _current.get()
    if pending is not None:
        del pending.rows[pending.written :]


@functools.lru_cache(maxsize=64)
def _insert_sql(count: int) -> str:
    """PostgreSQL's multi-row INSERT; ids are drawn in the order of the rows."""
    from quarkbot.models import OutboxEvent

    marks = ",".join(f"(${3 * i + 1},${3 * i + 2},${3 * i + 3})" for i in range(count))
    return (
        f'INSERT INTO "{OutboxEvent._meta.db_table}" ("channel","body","created_at") '  # noqa: S608
        f'VALUES {marks} RETURNING "id"'
    )
