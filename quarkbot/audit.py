"""The audit log: one row per mutating request, each hash-chained to the row before it.

Editing or deleting any row breaks the chain, which ``quarkbot audit verify`` detects.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import sqlite3
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient, TransactionalDBClient

from quarkbot.models import AuditLog
from quarkbot.sqlite_transaction import LazyConnection

GENESIS = "0" * 64
MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

#: One lock per event loop: an asyncio.Lock must not be shared between loops (tests, CLI runs).
#: ``_locks`` serialises this process's appends outside transactions, ``_turns`` its last-step
#: appends inside them (see :func:`append`); separate, so neither waits for the other.
_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)
_turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _loop_lock(
    table: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock],
) -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = table.get(loop)
    if lock is None:
        lock = table[loop] = asyncio.Lock()
    return lock


def _lock() -> asyncio.Lock:
    return _loop_lock(_locks)


@dataclass(frozen=True)
class AuditEntry:
    actor: str
    actor_type: str
    method: str
    path: str
    status: int
    request_id: str
    client_ip: str | None = None
    action: str | None = None


def _timestamp(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="microseconds")


def chain_hash(prev_hash: str, seq: int, ts: datetime, entry: AuditEntry) -> str:
    payload = {
        "seq": seq,
        "ts": _timestamp(ts),
        "actor": entry.actor,
        "actor_type": entry.actor_type,
        "method": entry.method,
        "path": entry.path,
        "status": entry.status,
        "request_id": entry.request_id,
        "client_ip": entry.client_ip,
        "action": entry.action,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def _clean(value: str | None, limit: int) -> str | None:
    """Fit one value to its column: no NUL characters (PostgreSQL rejects them), cut to size."""
    if value is None:
        return None
    return value.replace("\x00", "\ufffd")[:limit]


def normalize(entry: AuditEntry) -> AuditEntry:
    """The entry exactly as it is stored, so that its hash matches the row."""
    return replace(
        entry,
        actor=_clean(entry.actor, 100) or "",
        actor_type=_clean(entry.actor_type, 16) or "",
        method=_clean(entry.method, 10) or "",
        path=_clean(entry.path, 500) or "",
        request_id=_clean(entry.request_id, 64) or "",
        client_ip=_clean(entry.client_ip, 64),
        action=_clean(entry.action, 100),
    )


#: The last committed row this process knows of, per database client: the next append links to
#: it with no read first. It only ever holds committed rows (an append inside a transaction
#: moves it after the commit): a stale entry costs one conflict on the unique ``seq`` and a read,
#: while an entry for a row that was rolled back would link the next row to nothing.
_tails: weakref.WeakKeyDictionary[object, tuple[int, str]] = weakref.WeakKeyDictionary()

_COLUMNS = (
    "seq",
    "ts",
    "prev_hash",
    "hash",
    "actor",
    "actor_type",
    "method",
    "path",
    "status",
    "request_id",
    "client_ip",
    "action",
)
_insert_sql: dict[tuple[type, type], str] = {}


def _insert_statement(conn: BaseDBAsyncClient) -> str:
    """``INSERT ... ON CONFLICT (seq) DO NOTHING RETURNING id`` in the connection's dialect.

    A taken ``seq`` answers no row instead of an error: on PostgreSQL an error would abort the
    surrounding transaction (the request's own), so this needs no savepoint around the insert.
    """
    key = (conn.query_class, conn.executor_class)
    sql = _insert_sql.get(key)
    if sql is None:
        executor = conn.executor_class(model=AuditLog, db=conn)
        insert: Any = (
            conn.query_class.into(AuditLog._meta.basetable)
            .columns(*_COLUMNS)
            .insert(*[executor.parameter(i) for i in range(len(_COLUMNS))])
        )
        query = insert.on_conflict("seq").do_nothing().returning("id")
        sql = _insert_sql[key] = str(query)
    return sql


def _link(row: AuditLog, tail: tuple[int, str], entry: AuditEntry) -> list[Any]:
    """Make ``row`` the one after ``tail``; returns its column values as stored."""
    row.seq, row.prev_hash, row.ts = tail[0] + 1, tail[1], datetime.now(UTC)
    row.hash = chain_hash(row.prev_hash, row.seq, row.ts, entry)
    for name in _COLUMNS[4:]:
        setattr(row, name, getattr(entry, name))
    fields = AuditLog._meta.fields_map
    return [fields[name].to_db_value(getattr(row, name), row) for name in _COLUMNS]


async def _try_insert(
    conn: BaseDBAsyncClient, tail: tuple[int, str], entry: AuditEntry
) -> AuditLog | None:
    """The row after ``tail``, stored; None when another writer took that ``seq`` first."""
    row = AuditLog()
    inserted = await conn.execute_query_dict(_insert_statement(conn), _link(row, tail, entry))
    if not inserted:
        return None
    row.id = inserted[0]["id"]
    row._saved_in_db = True
    return row


_LAST_SQL = 'SELECT "seq", "hash" FROM "quarkbot_audit_log" ORDER BY "seq" DESC LIMIT 1'


def _insert_later(
    lazy: LazyConnection, sql: str, tail: tuple[int, str] | None, entry: AuditEntry
) -> AuditLog:
    """On SQLite, the append goes with the commit (``quarkbot.sqlite_transaction``): the row's
    ``seq`` and ``hash`` are set once it has run. The transaction holds the write lock by then,
    so a stale tail is read again once and cannot be taken meanwhile."""
    row = AuditLog()

    def insert(raw: sqlite3.Connection) -> None:
        known = tail
        for _attempt in range(2):
            if known is None:
                last = raw.execute(_LAST_SQL).fetchone()
                known = (int(last[0]), str(last[1])) if last else (0, GENESIS)
            inserted = raw.execute(sql, _link(row, known, entry)).fetchone()
            if inserted:
                row.id, row._saved_in_db = inserted[0], True
                return
            known = None
        raise RuntimeError(f"audit seq {row.seq} is taken although the write lock is held")

    lazy.defer_call(insert)
    return row


async def _last(conn: BaseDBAsyncClient) -> tuple[int, str]:
    last = await AuditLog.all().using_db(conn).order_by("-seq").first()
    return (last.seq, last.hash) if last else (0, GENESIS)


def _base_client(conn: BaseDBAsyncClient) -> BaseDBAsyncClient:
    """The client a transaction runs on (the key of its tail)."""
    while isinstance(conn, TransactionalDBClient):
        conn = conn._parent
    return conn


def _advance(client: BaseDBAsyncClient, row: AuditLog) -> None:
    current = _tails.get(client)
    if current is None or current[0] < row.seq:
        _tails[client] = (row.seq, row.hash)


async def append(entry: AuditEntry, *, last_statement: bool = False) -> AuditLog:
    """Append one row. ``seq`` is unique, so concurrent writers in other processes retry.

    Inside a transaction the row is part of it: it exists exactly when the transaction commits.
    ``last_statement``: the caller's transaction runs nothing else before its commit (the
    request's row, written right before it). This process's other such appends then wait for
    that commit here, with the tail known, instead of in the database, where each would wait on
    the uncommitted ``seq``, find it taken and read the tail again (all of them, every commit).
    """
    entry = normalize(entry)
    conn = connections.get("default")
    if isinstance(conn, TransactionalDBClient):
        return await _append_in_transaction(conn, entry, last_statement)
    async with _lock():
        for _attempt in range(50):
            tail = _tails.pop(conn, None) or await _last(conn)
            row = await _try_insert(conn, tail, entry)
            if row is not None:
                _advance(conn, row)
                return row
            await asyncio.sleep(random.uniform(0.001, 0.02))
    raise RuntimeError("could not append to the audit log after 50 attempts")


async def _append_in_transaction(
    conn: BaseDBAsyncClient, entry: AuditEntry, last_statement: bool
) -> AuditLog:
    """Append inside the caller's transaction, never under ``_lock``.

    ``_lock`` would deadlock on SQLite, whose transaction holds the connection that an append
    outside it (holding ``_lock``) waits for. A concurrent writer's uncommitted row with the same
    ``seq`` makes the insert wait for its commit (then it answers no row and the tail is read
    again) or its rollback (then it goes in). The tail moves once the transaction committed
    (``events.on_end``); a rollback leaves it where it was. With ``last_statement`` the turn
    (``_turns``) is held from the insert to that end: held while other statements of the same
    transaction ran, it could close a cycle with a row lock the database cannot see.
    """
    from quarkbot import events

    turn = _loop_lock(_turns) if last_statement else None
    if turn is not None:
        await turn.acquire()
    try:
        lazy = getattr(conn, "_connection", None)
        if isinstance(lazy, LazyConnection):
            tail = _tails.get(_base_client(conn))
            row = _insert_later(lazy, _insert_statement(conn), tail, entry)
        else:
            row = await _insert_after_tail(conn, entry)
    except BaseException:
        if turn is not None:
            turn.release()
        raise
    ended = partial(_ended, _base_client(conn), row, turn)
    try:
        events.on_end(ended)
    except RuntimeError:  # a bare in_transaction(): no word of its end, so nothing is kept
        ended(False)
    return row


async def _insert_after_tail(conn: BaseDBAsyncClient, entry: AuditEntry) -> AuditLog:
    tail = _tails.get(_base_client(conn))
    for attempt in range(50):
        if tail is None:
            tail = await _last(conn)
        row = await _try_insert(conn, tail, entry)
        if row is not None:
            return row
        tail = None
        if attempt:
            await asyncio.sleep(random.uniform(0.001, 0.02))
    raise RuntimeError("could not append to the audit log after 50 attempts")


def _ended(
    client: BaseDBAsyncClient, row: AuditLog, turn: asyncio.Lock | None, committed: bool
) -> None:
    # still inside a transaction: that ``atomic`` was a savepoint in a bare ``in_transaction()``,
    # whose own commit is still to come (or not)
    if not committed:
        _tails.pop(client, None)  # read the tail again rather than trust anything near a rollback
    elif not isinstance(connections.get("default"), TransactionalDBClient):
        _advance(client, row)
    if turn is not None:
        turn.release()


async def exists(seq: int, hash: str) -> bool:
    """Whether the row ``seq`` with this ``hash`` is stored (committed, seen from outside)."""
    return await AuditLog.exists(seq=seq, hash=hash)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    rows: int
    problem: str | None = None


async def _rows(batch: int = 1000) -> AsyncIterator[AuditLog]:
    after = 0
    while True:
        chunk = await AuditLog.filter(seq__gt=after).order_by("seq").limit(batch)
        if not chunk:
            return
        for row in chunk:
            yield row
        after = chunk[-1].seq


async def verify() -> VerifyResult:
    """Recompute the chain from the first row; report the first row that does not fit."""
    prev = GENESIS
    expected_seq = 1
    count = 0
    async for row in _rows():
        if row.seq != expected_seq:
            return VerifyResult(False, count, f"row seq {expected_seq} is missing")
        if row.prev_hash != prev:
            return VerifyResult(False, count, f"row seq {row.seq} does not link to its predecessor")
        entry = AuditEntry(
            actor=row.actor,
            actor_type=row.actor_type,
            method=row.method,
            path=row.path,
            status=row.status,
            request_id=row.request_id,
            client_ip=row.client_ip,
            action=row.action,
        )
        if chain_hash(prev, row.seq, row.ts, entry) != row.hash:
            return VerifyResult(False, count, f"row seq {row.seq} was modified")
        prev = row.hash
        expected_seq += 1
        count += 1
    return VerifyResult(True, count)
