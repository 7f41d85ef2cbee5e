"""The public surface of trading: the only module other plugins may import.

Everything here is stable; the rest of the package (pipeline, routes, paper broker) may change.

- models (read them; write them only through the trading plugin): :class:`Position` (signed
  ``quantity``, ``avg_price``, ``realized_pnl``, ``kind``), :class:`Fill`, :class:`CashBalance`
  (per account and currency; created lazily, the base currency at the initial capital),
  :class:`Trade` (closed round trips)
- ``ledger``: the pure average-cost arithmetic (``PositionState``, ``apply_fill``,
  ``unrealized_pnl``, ``position_value``)
- ``trading_settings()``: ``account``, ``base_currency``, ``initial_capital``, fees, ...
- ``await rebuild_books()``: replay every fill and fix the positions and cash (see
  :mod:`quarkbot_plugins.trading.books`)
- :class:`OrderEvent`: what ``on_order_event`` hooks receive (``kind``, ``order``, ``fill``)
- ``FILL_EVENTS``: the ``OrderEvent.kind`` values that come with a fill
- for the risk plugin's kill switch: ``await cancel_open_orders(reason)`` cancels every open
  order through its broker and returns how many were canceled
- for the strategies plugin's auto-trade: ``await place_order(OrderRequest(...), actor)`` runs
  an order through the whole pipeline (every gate) and returns ``(order, created)``; a repeated
  ``client_order_id`` returns the first order (``created`` False), one reused for a different
  order raises ``quarkbot.errors.Conflict`` (``code`` ``DUPLICATE_CLIENT_ORDER_ID``), a bad
  request ``Invalid``, a symbol without a quote ``Conflict`` ``NO_MARKET_DATA``, a missing broker
  ``Unavailable``: all :class:`quarkbot.errors.DomainError`; ``await
  find_order(client_order_id)`` is the order placed with that id, or None
- for risk, budget and portfolio: the gate vocabulary (``Denial`` is what a ``check_order`` hook
  returns to stop an order, ``OrderContext`` what it receives), the order statuses
  (:class:`OrderStatus`; ``OPEN_STATUSES`` are the working ones), ``await
  count_open_orders()``, and the one valuation of the account at market: ``await valuate()``
  (:class:`Valuation` of :class:`Holding`); inside ``check_order``, ``await valuate(ctx)`` values
  the account rows the gates read for the order, once for every hook; a gate that will value
  the account returns ``{QUOTES_AHEAD: quotes_ahead(order.account)}`` from its ``gate_reads``
  so the quotes are read with the rows
- ``estimate_price(order, quote)``: the price an order is expected to execute at (its limit or
  stop price, else the quote's side); ``estimate_fee(notional)``: the taker fee on a notional
"""

from __future__ import annotations

from datetime import datetime

from quarkbot.errors import DomainError
from quarkbot.plugin_settings import settings_of
from quarkbot_plugins.trading import ledger
from quarkbot_plugins.trading.books import rebuild_books
from quarkbot_plugins.trading.cancel import cancel_open_orders
from quarkbot_plugins.trading.domain import (
    OPEN_STATUSES,
    STATUSES,
    TERMINAL_STATUSES,
    Denial,
    OrderContext,
    OrderEvent,
    OrderRequest,
    OrderStatus,
)
from quarkbot_plugins.trading.gates import estimate_fee, estimate_price
from quarkbot_plugins.trading.models import CashBalance, Fill, Order, Position, Trade
from quarkbot_plugins.trading.pipeline import find_order, place_order
from quarkbot_plugins.trading.settings import TradingSettings
from quarkbot_plugins.trading.valuation import (
    QUOTES_AHEAD,
    Holding,
    Valuation,
    quotes_ahead,
    valuate,
)

FILL_EVENTS = frozenset({"filled", "partially_filled"})

# Kept for callers; catch quarkbot.errors.DomainError.
OrderError = DomainError


def trading_settings() -> TradingSettings:
    """The trading settings of this process (``settings_of(TradingSettings)``)."""
    return settings_of(TradingSettings)


async def count_open_orders(account: str | None = None) -> int:
    """Working orders (``OPEN_STATUSES``), of ``account`` when given."""
    # raw SQL: the risk gate counts on every order, and building the query was most of its cost
    values: list[str] = sorted(OPEN_STATUSES)
    table = Order._meta.db_table  # our own name, not input
    sql = f'SELECT COUNT(*) AS n FROM "{table}" WHERE "status" IN ({_marks(1, len(values))})'  # noqa: S608
    if account is not None:
        sql += f' AND "account" = {_marks(len(values) + 1, 1)}'
        values.append(account)
    rows = await Order._meta.db.execute_query_dict(sql, values)
    return int(rows[0]["n"])


def _marks(first: int, count: int) -> str:
    """``count`` placeholders from the ``first``: ``?`` on SQLite, ``$n`` on PostgreSQL."""
    if Order._meta.db.capabilities.dialect == "sqlite":
        return ", ".join("?" * count)
    return ", ".join(f"${n}" for n in range(first, first + count))


# For risk's rejection-rate breaker: the deny codes of orders a broker refused (not a gate's
# denial), and ``await count_broker_outcomes(since)`` -> (orders submitted to a broker since
# ``since``, orders closed since then with one of those codes).
BROKER_REJECTIONS = frozenset({"BROKER_REJECTED", "BROKER_UNKNOWN"})


async def count_broker_outcomes(since: datetime) -> tuple[int, int]:
    submitted = await Order.filter(submitted_at__gte=since).count()
    refused = await Order.filter(
        closed_at__gte=since, deny_code__in=list(BROKER_REJECTIONS)
    ).count()
    return submitted, refused


__all__ = [
    "BROKER_REJECTIONS",
    "FILL_EVENTS",
    "OPEN_STATUSES",
    "QUOTES_AHEAD",
    "STATUSES",
    "TERMINAL_STATUSES",
    "CashBalance",
    "Denial",
    "Fill",
    "Holding",
    "OrderContext",
    "OrderError",
    "OrderEvent",
    "OrderRequest",
    "OrderStatus",
    "Position",
    "Trade",
    "TradingSettings",
    "Valuation",
    "cancel_open_orders",
    "count_broker_outcomes",
    "count_open_orders",
    "estimate_fee",
    "estimate_price",
    "find_order",
    "ledger",
    "place_order",
    "quotes_ahead",
    "rebuild_books",
    "trading_settings",
    "valuate",
]


# Appended for the hedging plugin's dry run: ``await preview_order(OrderRequest(...), actor)`` is
# what ``POST /api/v1/orders/preview`` answers (``would_submit``, every gate's ``denials``,
# ``estimated_price``, ``notional``, ``estimated_fee``, ``margin_required``,
# ``position_before``/``after``); nothing is stored or sent.
async def preview_order(request: OrderRequest, actor: str) -> dict[str, object]:
    from quarkbot_plugins.trading.preview import preview

    return await preview(request, actor)


__all__ += ["preview_order"]


# Appended for the samplers of other plugins' metrics (risk's drawdown, portfolio's daily P&L):
# ``await round_valuation()`` is ``valuate()`` computed once per metrics sampling round.
async def round_valuation() -> Valuation:
    from quarkbot_plugins.trading.telemetry import round_valuation as shared

    return await shared()


__all__ += ["round_valuation"]
