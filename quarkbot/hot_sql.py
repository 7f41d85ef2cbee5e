"""Hand-written statements for the few queries where tortoise's query building cost more than
running the query: the order path's, found by profiling ``bench/orders.py`` (building an
``UPDATE ... WHERE`` took about 0.3 ms of CPU, running it in SQLite 0.03 ms). Everything else
stays with the ORM, and these behave as the ORM's equivalents do.

The SQL text of each shape (model, columns, dialect) is built once: ``?`` placeholders on
SQLite, ``$n`` on PostgreSQL. Values go through the model's fields as tortoise converts them
(``to_db_value``), rows come back as model instances (``_init_from_db``). The
statements run on the current transaction when there is one, as a query set would.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeVar

from tortoise import Model
from tortoise.backends.base.client import BaseDBAsyncClient

from quarkbot.deferred_writes import defer_sql, insert_now

M = TypeVar("M", bound=Model)


def _marks(dialect: str, first: int, count: int) -> list[str]:
    if dialect == "sqlite":
        return ["?"] * count
    return [f"${n}" for n in range(first, first + count)]


def _column(model: type[Model], name: str) -> str:
    return '"' + model._meta.fields_db_projection[name] + '"'


def _where(model: type[Model], names: Sequence[str], marks: Sequence[str]) -> str:
    return " AND ".join(f"{_column(model, n)}={m}" for n, m in zip(names, marks, strict=True))


@functools.cache
def _update_text(
    model: type[Model], dialect: str, fields: tuple[str, ...], where: tuple[str, ...]
) -> str:
    marks = _marks(dialect, 1, len(fields) + len(where))
    sets = ",".join(f"{_column(model, n)}={m}" for n, m in zip(fields, marks, strict=False))
    table = model._meta.db_table
    return f'UPDATE "{table}" SET {sets} WHERE {_where(model, where, marks[len(fields) :])}'  # noqa: S608


@functools.cache
def _add_text(model: type[Model], dialect: str, field: str, where: tuple[str, ...]) -> str:
    marks = _marks(dialect, 1, 1 + len(where))
    column = _column(model, field)
    # as tortoise renders F(field) + value: SQLite keeps decimals as text
    total = f"CAST({column} AS NUMERIC)" if dialect == "sqlite" else column
    table = model._meta.db_table
    return (
        f'UPDATE "{table}" SET {column}={total}+{marks[0]} WHERE {_where(model, where, marks[1:])}'  # noqa: S608
    )


@functools.cache
def _select_text(
    model: type[Model],
    dialect: str,
    where: tuple[tuple[str, int | None], ...],
    order: str,
    for_update: bool,
) -> str:
    columns = ",".join(f'"{c}"' for c in model._meta.fields_db_projection.values())
    conditions, first = [], 1
    for name, count in where:  # count: the length of an ``IN`` list, None for equality
        marks = _marks(dialect, first, count or 1)
        first += len(marks)
        test = f"={marks[0]}" if count is None else f" IN ({','.join(marks)})"
        conditions.append(_column(model, name) + test)
    sql = f'SELECT {columns} FROM "{model._meta.db_table}" WHERE {" AND ".join(conditions)}'  # noqa: S608
    sql += f" ORDER BY {_column(model, order)}" if order else ""
    # SQLite locks the whole file for a write transaction: it has no row locks to take
    return sql + (" FOR UPDATE" if for_update and dialect != "sqlite" else "")


def _values(model: type[Model], items: Mapping[str, Any]) -> list[Any]:
    fields = model._meta.fields_map
    return [fields[name].to_db_value(value, model) for name, value in items.items()]


def _dialect(db: BaseDBAsyncClient) -> str:
    return str(db.capabilities.dialect)


async def insert(instance: M, using_db: BaseDBAsyncClient | None = None) -> M:
    """``instance.save(force_create=True)``: tortoise's own INSERT (defaults, primary key),
    without its save signals' dispatch when no listener is connected to the model (two
    ``asyncio.gather()`` of nothing per row; about a third of ``save``'s CPU)."""
    await insert_now(instance, using_db or type(instance)._choose_db(for_write=True))
    return instance


async def update(
    model: type[Model],
    where: Mapping[str, Any],
    using_db: BaseDBAsyncClient | None = None,
    **fields: Any,
) -> int:
    """``model.filter(**where).update(**fields)`` (equality filters only): rows changed."""
    db = using_db or model._choose_db(for_write=True)
    sql = _update_text(model, _dialect(db), tuple(fields), tuple(where))
    count, _ = await db.execute_query(sql, _values(model, fields) + _values(model, where))
    return int(count)


async def add_later(
    model: type[Model],
    where: Mapping[str, Any],
    field: str,
    amount: Decimal,
    using_db: BaseDBAsyncClient | None = None,
) -> None:
    """``model.filter(**where).update(field=F(field) + amount)`` whose row count nobody reads:
    on SQLite in a transaction it goes with the next statement (``quarkbot.deferred_writes``)."""
    db = using_db or model._choose_db(for_write=True)
    sql = _add_text(model, _dialect(db), field, tuple(where))
    values = _values(model, {field: amount}) + _values(model, where)
    if not defer_sql(db, sql, values):
        await db.execute_query(sql, values)


async def select(
    model: type[M],
    where: Mapping[str, Any],
    order_by: str = "",
    using_db: BaseDBAsyncClient | None = None,
    for_update: bool = False,
) -> list[M]:
    """``model.filter(**where).order_by(order_by)`` (one ascending column), optionally
    ``.select_for_update()``. A filter is equality, or ``IN`` for a list or tuple value (the
    ORM's ``name__in``; an empty one matches nothing)."""
    if any(isinstance(v, list | tuple) and not v for v in where.values()):
        return []
    db = using_db or model._choose_db(for_write=for_update)
    shape = tuple(
        (name, len(value) if isinstance(value, list | tuple) else None)
        for name, value in where.items()
    )
    sql = _select_text(model, _dialect(db), shape, order_by, for_update)
    fields = model._meta.fields_map
    values: list[Any] = []
    for name, value in where.items():
        items = value if isinstance(value, list | tuple) else [value]
        values.extend(fields[name].to_db_value(item, model) for item in items)
    rows = await db.execute_query_dict(sql, values)
    return [model._init_from_db(**row) for row in rows]
