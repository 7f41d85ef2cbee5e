"""Data migration: hold the cash of the orders that were already working when 0002 arrived.

0002 added ``CashBalance.held`` (the running total of cash held by working orders) with a
database default of 0, and ``Order.hold_rate`` / ``hold_currency`` as NULL: an order placed
before the upgrade and still open held nothing. This recomputes both from the open orders,
exactly as ``holds.py`` holds a new order (``hold_rate`` from the order and its instrument, the
rate times the remaining quantity), and sets each cash row's ``held`` to the total of its open
orders (creating a missing cash row at its initial amount, as ``cash.cash_row`` would). Orders
that already carry a rate keep it. Runs in the migration's transaction, through the ORM (SQLite
and PostgreSQL alike).
"""

import logging
from collections import defaultdict
from decimal import Decimal
from typing import Any

from tortoise import migrations
from tortoise.migrations import operations as ops

log = logging.getLogger("quarkbot.trading.migrations")
OPEN = ["PENDING_SUBMIT", "ACCEPTED", "PARTIALLY_FILLED", "UNKNOWN"]


async def backfill_held(apps: Any, schema_editor: Any) -> None:
    from quarkbot.plugin_settings import settings_of
    from quarkbot_plugins.trading import holds
    from quarkbot_plugins.trading.settings import TradingSettings

    conn = schema_editor.client
    order_model = apps.get_model("trading", "Order")
    cash_model = apps.get_model("trading", "CashBalance")
    instrument_model = apps.get_model("market_data", "InstrumentRecord")
    orders = await order_model.filter(status__in=OPEN).using_db(conn).order_by("id")
    symbols = sorted({o.symbol for o in orders})
    instruments = {
        i.symbol: i for i in await instrument_model.filter(symbol__in=symbols).using_db(conn)
    }
    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for order in orders:
        if order.hold_rate is None:
            instrument = instruments.get(order.symbol)
            if instrument is None:
                log.warning(
                    "open order %s: unknown instrument %s, holds nothing", order.id, order.symbol
                )
                continue
            rate = holds.hold_rate(order, instrument)
            if rate is None:
                continue  # spends no cash (a spot sell, a reduce-only order)
            order.hold_rate, order.hold_currency = rate, instrument.quote_currency
            await (
                order_model.filter(id=order.id)
                .using_db(conn)
                .update(hold_rate=rate, hold_currency=instrument.quote_currency)
            )
        if order.hold_currency is not None:
            totals[(order.account, order.hold_currency)] += holds.held(order)
    rows = {(r.account, r.currency): r for r in await cash_model.all().using_db(conn)}
    settings = settings_of(TradingSettings)
    for key in sorted(set(rows) | set(totals)):
        held = totals.get(key, Decimal(0))
        row = rows.get(key)
        if row is None:
            account, currency = key
            initial = settings.initial_capital if currency == settings.base_currency else 0
            await cash_model.create(
                account=account, currency=currency, amount=initial, held=held, using_db=conn
            )
        elif Decimal(row.held) != held:
            await cash_model.filter(id=row.id).using_db(conn).update(held=held)


class Migration(migrations.Migration):
    dependencies = [("trading", "0002_cash_held"), ("market_data", "0001_initial")]

    initial = False

    operations = [ops.RunPython(backfill_held, ops.RunPython.noop)]
