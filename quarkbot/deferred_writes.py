"""Writes whose result nobody reads, sent with the transaction's next statement or its commit.

On SQLite this saves the transaction a trip to aiosqlite's thread per write while it holds the
write lock (``quarkbot.sqlite_transaction``); elsewhere, and outside a transaction, the write
runs at once. Statement order is kept either way, so a later read in the transaction sees it.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from tortoise import Model
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Expression
from tortoise.fields.base import DatabaseDefault
from tortoise.queryset import DeleteQuery, UpdateQuery
from tortoise.signals import Signals

from quarkbot.sqlite_transaction import LazyConnection


def _lazy(db: BaseDBAsyncClient) -> LazyConnection | None:
    connection = getattr(db, "_connection", None)
    return connection if isinstance(connection, LazyConnection) else None


def defers(db: BaseDBAsyncClient) -> bool:
    """Whether writes on ``db`` (a transaction's client) wait for its next statement."""
    return _lazy(db) is not None


def defer_sql(db: BaseDBAsyncClient, sql: str, values: list[Any]) -> bool:
    """Send ``sql`` with the transaction's next statement where ``db`` defers writes (True);
    False where it does not (the caller runs it now)."""
    lazy = _lazy(db)
    if lazy is None:
        return False
    lazy.defer(sql, values)
    return True


async def write_later(query: UpdateQuery | DeleteQuery) -> None:
    """``await query`` (an ``.update(...)`` or ``.delete()``), unless it can wait for the next
    statement; its row count is not returned."""
    query._choose_db_if_not_chosen(True)
    lazy = _lazy(query._db)
    if lazy is None:
        await query
        return
    query._make_query()
    sql, values = query.query.get_parameterized_sql()
    lazy.defer(sql, values)


async def update_or_fail(query: UpdateQuery, error: Exception) -> None:
    """``await query`` (an ``.update(...)``) that must change a row, else ``error`` is raised
    and the transaction rolls back: a compare-and-set. On SQLite in a transaction the row count
    is checked in aiosqlite's thread, with the next statement or the commit, which then raises
    ``error`` (after ``async with``, at the latest)."""
    query._choose_db_if_not_chosen(True)
    lazy = _lazy(query._db)
    if lazy is None:
        if not await query:
            raise error
        return
    query._make_query()
    sql, values = query.query.get_parameterized_sql()

    def compare_and_set(raw: sqlite3.Connection) -> None:
        if raw.execute(sql, values).rowcount == 0:
            raise error

    lazy.defer_call(compare_and_set)


async def insert_now(instance: Model, using_db: BaseDBAsyncClient) -> None:
    """``await instance.save(using_db=..., force_create=True)``, without dispatching the save
    signals when no listener is connected to the model (``hot_sql.insert``)."""
    model = type(instance)
    # save() for what it does beyond the INSERT: signals, partial rows, async field defaults
    if (
        _has_save_listeners(model)
        or instance._partial
        or getattr(instance, "_await_when_save", None)
    ):
        await instance.save(using_db=using_db, force_create=True)
        return
    await using_db.executor_class(model=model, db=using_db).execute_insert(instance)
    instance._saved_in_db = True


def _has_save_listeners(model: type[Model]) -> bool:
    listeners = model._listeners
    return bool(
        listeners.get(Signals.pre_save, {}).get(model)
        or listeners.get(Signals.post_save, {}).get(model)
    )


async def insert_later(instance: Model, using_db: BaseDBAsyncClient) -> None:
    """``await instance.save(using_db=...)`` for a new row with an auto-increment id and no
    signals; on SQLite in a transaction the id is set when the statement has run (by the commit
    at the latest). A row with database defaults is written at once (their values are read
    back), as is every row elsewhere (``insert_now``)."""
    lazy = _lazy(using_db)
    executor: Any = using_db.executor_class(model=type(instance), db=using_db)
    if lazy is None or executor._has_db_default_values(instance, executor.regular_columns):
        await insert_now(instance, using_db)
        return
    meta = instance._meta
    values = [
        meta.fields_map[name].to_db_value(getattr(instance, name), instance)
        for name in executor.regular_columns
    ]
    statement = lazy.defer(executor.insert_query, values)

    def saved(done: Any) -> None:
        instance.pk = done.rowid
        instance._saved_in_db = True

    statement.done.append(saved)


async def save_later(instance: Model, using_db: BaseDBAsyncClient) -> None:
    """``await instance.save(using_db=...)`` for a row already stored (every field written, no
    signals), unless it can wait for the next statement."""
    lazy = _lazy(using_db)
    if lazy is None or not instance._saved_in_db or instance.pk is None:
        await instance.save(using_db=using_db)
        return
    executor: Any = using_db.executor_class(model=type(instance), db=using_db)
    meta = instance._meta
    names = [
        name
        for name in meta.fields_db_projection
        if not meta.fields_map[name].pk and not meta.fields_map[name].generated
    ]
    values = [getattr(instance, name) for name in names]
    if any(isinstance(value, (Expression, DatabaseDefault)) for value in values):
        await instance.save(using_db=using_db)
        return
    stored = [
        meta.fields_map[name].to_db_value(value, instance)
        for name, value in zip(names, values, strict=True)
    ]
    stored.append(meta.pk.to_db_value(instance.pk, instance))
    lazy.defer(executor.get_update_sql(names, {}), stored)
