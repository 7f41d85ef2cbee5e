"""The order path's hand-written statements (``quarkbot.hot_sql``) do what the ORM's equivalents
do, on SQLite and PostgreSQL: the same rows changed and stored, the same instances read, and the
increment deferred to the next statement inside a SQLite transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.signals import Signals
from tortoise.transactions import in_transaction

from quarkbot import db, hot_sql
from quarkbot_plugins.trading.models import CashBalance, Order, Position

ACCOUNT = "hot-sql"


@pytest.fixture
async def rows(app: Any) -> list[CashBalance]:
    return [
        await CashBalance.create(account=ACCOUNT, currency="USD", amount=Decimal("100.5")),
        await CashBalance.create(account=ACCOUNT, currency="EUR", amount=Decimal("7")),
        await CashBalance.create(account="other", currency="USD", amount=Decimal("1")),
    ]


def snapshot(rows: list[Any]) -> list[tuple[Any, ...]]:
    return [(r.id, r.account, r.currency, Decimal(r.amount), Decimal(r.held)) for r in rows]


async def test_select_reads_what_the_orm_reads(rows: list[CashBalance]) -> None:
    mine = await hot_sql.select(CashBalance, {"account": ACCOUNT}, order_by="currency")
    orm = await CashBalance.filter(account=ACCOUNT).order_by("currency")
    assert snapshot(mine) == snapshot(orm) and [r.currency for r in mine] == ["EUR", "USD"]
    assert [r.updated_at for r in mine] == [r.updated_at for r in orm]
    assert all(isinstance(r, CashBalance) and r._saved_in_db for r in mine)
    assert await hot_sql.select(CashBalance, {"account": "nobody"}) == []
    with db.brief_reads():  # in the event loop on SQLite: the same rows
        assert snapshot(await hot_sql.select(CashBalance, {"account": ACCOUNT}, "currency")) == (
            snapshot(orm)
        )


async def test_update_changes_the_matching_rows_and_counts_them(rows: list[CashBalance]) -> None:
    usd, eur, other = rows
    where = {"account": ACCOUNT, "currency": "USD"}
    assert await hot_sql.update(CashBalance, where, amount=Decimal("42.25")) == 1
    assert await hot_sql.update(CashBalance, {"id": usd.id, "currency": "GBP"}, amount=1) == 0
    stored = {r.id: Decimal(r.amount) for r in await CashBalance.all()}
    assert stored == {usd.id: Decimal("42.25"), eur.id: Decimal(7), other.id: Decimal(1)}


async def test_update_converts_values_as_the_orm_does(app: Any) -> None:
    when = datetime(2026, 12, 4, 12, 30, 15, 123456, tzinfo=UTC)
    order = await Order.create(
        account=ACCOUNT, client_order_id="h-1", request_hash="x", symbol="BTC-USD", side="buy",
        type="market", time_in_force="gtc", quantity=Decimal("0.5"), status="PENDING_SUBMIT",
        broker="paper", created_by="t",
    )  # fmt: skip
    twin = await Order.create(
        account=ACCOUNT, client_order_id="h-2", request_hash="x", symbol="BTC-USD", side="buy",
        type="market", time_in_force="gtc", quantity=Decimal("0.5"), status="PENDING_SUBMIT",
        broker="paper", created_by="t",
    )  # fmt: skip
    fields = {"status": "ACCEPTED", "broker_order_id": "paper-1", "submitted_at": when}
    where = {"id": order.id, "status": "PENDING_SUBMIT"}
    assert await hot_sql.update(Order, where, **fields) == 1
    assert await Order.filter(id=twin.id, status="PENDING_SUBMIT").update(**fields) == 1
    mine, orm = await Order.get(id=order.id), await Order.get(id=twin.id)
    for name in fields:
        assert getattr(mine, name) == getattr(orm, name) == fields[name]
    assert await hot_sql.update(Order, where, **fields) == 0  # no longer pending


async def test_add_later_adds_as_f_expressions_do(rows: list[CashBalance]) -> None:
    usd, eur, _ = rows
    await hot_sql.add_later(
        CashBalance, {"account": ACCOUNT, "currency": "USD"}, "held", Decimal("1.25")
    )
    await CashBalance.filter(id=eur.id).update(held=F("held") + Decimal("1.25"))
    assert Decimal((await CashBalance.get(id=usd.id)).held) == Decimal("1.25")
    assert Decimal((await CashBalance.get(id=eur.id)).held) == Decimal("1.25")
    async with in_transaction() as conn:
        where = {"account": ACCOUNT, "currency": "USD"}
        await hot_sql.add_later(CashBalance, where, "held", Decimal("-0.75"), using_db=conn)
        await hot_sql.add_later(CashBalance, where, "held", Decimal("2"), using_db=conn)
        # a read in the transaction sees both (sent before it on SQLite, at once elsewhere)
        row = await CashBalance.get(id=usd.id).using_db(conn)
        assert Decimal(row.held) == Decimal("2.5")
    assert Decimal((await CashBalance.get(id=usd.id)).held) == Decimal("2.5")


async def test_a_rolled_back_transaction_takes_its_deferred_add_with_it(
    rows: list[CashBalance],
) -> None:
    usd = rows[0]
    with pytest.raises(RuntimeError):
        async with in_transaction() as conn:
            where = {"account": ACCOUNT, "currency": "USD"}
            await hot_sql.add_later(CashBalance, where, "held", Decimal("9"), using_db=conn)
            await Position.filter(account=ACCOUNT).using_db(conn).count()
            raise RuntimeError("rolled back")
    assert Decimal((await CashBalance.get(id=usd.id)).held) == 0


def _order(client_order_id: str) -> Order:
    return Order(
        account=ACCOUNT, client_order_id=client_order_id, request_hash="x", symbol="BTC-USD",
        side="buy", type="market", time_in_force="gtc", quantity=Decimal("0.5"),
        status="PENDING_SUBMIT", broker="paper", created_by="t",
    )  # fmt: skip


def stored(order: Order) -> dict[str, Any]:
    skip = ("id", "client_order_id", "created_at", "updated_at")
    return {k: v for k, v in dict(order).items() if k not in skip}


async def test_insert_stores_what_save_stores(app: Any) -> None:
    mine, orm = _order("ins-1"), _order("ins-2")
    async with in_transaction() as conn:
        assert await hot_sql.insert(mine, using_db=conn) is mine
    await orm.save()
    assert mine.id is not None and mine._saved_in_db and mine.created_at is not None
    again, twin = await Order.get(id=mine.id), await Order.get(id=orm.id)
    assert stored(again) == stored(twin) and len(stored(again)) > 20
    assert (again.created_at, again.updated_at) == (mine.created_at, mine.updated_at)
    with pytest.raises(IntegrityError):  # the unique (account, client_order_id) holds
        await hot_sql.insert(_order("ins-1"))
    assert await Order.filter(account=ACCOUNT).count() == 2


async def test_insert_still_sends_the_save_signals_when_someone_listens(app: Any) -> None:
    seen: list[tuple[str, bool]] = []

    async def before(sender: Any, instance: Order, using_db: Any, fields: Any) -> None:
        seen.append(("pre", instance._saved_in_db))

    async def after(sender: Any, instance: Order, created: bool, *args: Any) -> None:
        seen.append(("post", created))

    Order.register_listener(Signals.pre_save, before)
    Order.register_listener(Signals.post_save, after)
    try:
        order = await hot_sql.insert(_order("ins-3"))
    finally:
        Order._listeners[Signals.pre_save][Order].remove(before)
        Order._listeners[Signals.post_save][Order].remove(after)
    assert seen == [("pre", False), ("post", True)]
    assert (await Order.get(id=order.id)).client_order_id == "ins-3"
    await hot_sql.insert(_order("ins-4"))  # none listening: nothing more seen
    assert len(seen) == 2 and await Order.filter(account=ACCOUNT).count() == 2


async def test_select_with_in_lists_and_for_update(rows: list[CashBalance]) -> None:
    usd, eur, _ = rows
    where = {"account": ACCOUNT, "currency": ["USD", "EUR", "GBP"]}
    orm = await CashBalance.filter(account=ACCOUNT, currency__in=["USD", "EUR", "GBP"]).order_by(
        "currency"
    )
    assert snapshot(await hot_sql.select(CashBalance, where, "currency")) == snapshot(orm)
    assert [r.id for r in await hot_sql.select(CashBalance, {"id": (usd.id,)})] == [usd.id]
    assert await hot_sql.select(CashBalance, {"account": ACCOUNT, "currency": []}) == []
    async with in_transaction() as conn:
        locked = await hot_sql.select(
            CashBalance, where, "currency", using_db=conn, for_update=True
        )
        assert [r.id for r in locked] == [eur.id, usd.id]
        await hot_sql.update(CashBalance, {"id": usd.id}, using_db=conn, amount=Decimal(5))
    assert Decimal((await CashBalance.get(id=usd.id)).amount) == 5


def test_only_databases_with_row_locks_get_for_update() -> None:
    shape = (("account", None), ("currency", 2))
    pg = hot_sql._select_text(CashBalance, "postgres", shape, "currency", True)
    assert pg.endswith(
        'WHERE "account"=$1 AND "currency" IN ($2,$3) ORDER BY "currency" FOR UPDATE'
    )
    lite = hot_sql._select_text(CashBalance, "sqlite", shape, "currency", True)
    assert lite.endswith('WHERE "account"=? AND "currency" IN (?,?) ORDER BY "currency"')
