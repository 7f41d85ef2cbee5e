"""The public surface of trading: the only module other plugins may import.

Everything here is stable; the rest of the package (service, routes, paper broker) may change.

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
"""

from __future__ import annotations

from quarkbot_plugins.trading import ledger
from quarkbot_plugins.trading.books import rebuild_books
from quarkbot_plugins.trading.domain import OrderEvent
from quarkbot_plugins.trading.models import CashBalance, Fill, Position, Trade
from quarkbot_plugins.trading.settings import TradingSettings, trading_settings

FILL_EVENTS = frozenset({"filled", "partially_filled"})

__all__ = [
    "FILL_EVENTS",
    "CashBalance",
    "Fill",
    "OrderEvent",
    "Position",
    "Trade",
    "TradingSettings",
    "ledger",
    "rebuild_books",
    "trading_settings",
]

# Appended for the risk plugin's kill switch: ``await cancel_open_orders(reason)`` cancels every
# open order through its broker and returns how many were canceled.
from quarkbot_plugins.trading.service import cancel_open_orders  # noqa: E402

__all__ += ["cancel_open_orders"]

# Appended for the strategies plugin's auto-trade: ``await place_order(OrderRequest(...),
# actor)`` runs an order through the whole pipeline (every gate) and returns ``(order,
# created)``; a repeated ``client_order_id`` returns the first order (``created`` False), one
# reused for a different order raises :class:`OrderError` (``status``, ``detail``, ``code``);
# ``await find_order(client_order_id)`` is the order placed with that id, or None.
from quarkbot_plugins.trading.service import (  # noqa: E402
    OrderError,
    OrderRequest,
    find_order,
    place_order,
)

__all__ += ["OrderError", "OrderRequest", "find_order", "place_order"]

# Appended for risk, budget and portfolio (the cohesion pass): the gate vocabulary, the order
# statuses, a count of open orders, and the one valuation of the account at market.
# ``Denial`` is what a ``check_order`` hook returns to stop an order; ``OrderContext`` is what it
# receives; ``OPEN_STATUSES`` are the statuses of working orders; ``await count_open_orders()``
# counts them; ``await valuate()`` is the account at market (:class:`Valuation` of
# :class:`Holding`).
from quarkbot_plugins.trading.domain import (  # noqa: E402
    OPEN_STATUSES,
    STATUSES,
    TERMINAL_STATUSES,
    Denial,
    OrderContext,
)
from quarkbot_plugins.trading.models import Order  # noqa: E402
from quarkbot_plugins.trading.valuation import Holding, Valuation, valuate  # noqa: E402


async def count_open_orders(account: str | None = None) -> int:
    """Working orders (``OPEN_STATUSES``), of ``account`` when given."""
    query = Order.filter(status__in=list(OPEN_STATUSES))
    if account is not None:
        query = query.filter(account=account)
    return await query.count()


__all__ += [
    "OPEN_STATUSES",
    "STATUSES",
    "TERMINAL_STATUSES",
    "Denial",
    "Holding",
    "OrderContext",
    "Valuation",
    "count_open_orders",
    "valuate",
]

# ``estimate_price(order, quote)``: the price an order is expected to execute at (its limit or
# stop price, else the quote's side); ``estimate_fee(notional)``: the taker fee on a notional.
from quarkbot_plugins.trading.service import estimate_fee, estimate_price  # noqa: E402

__all__ += ["estimate_fee", "estimate_price"]


# Appended for the hedging plugin's dry run: ``await preview_order(OrderRequest(...), actor)`` is
# what ``POST /api/v1/orders/preview`` answers (``would_submit``, every gate's ``denials``,
# ``estimated_price``, ``notional``, ``estimated_fee``, ``margin_required``,
# ``position_before``/``after``); nothing is stored or sent.
async def preview_order(request: OrderRequest, actor: str) -> dict[str, object]:
    from quarkbot_plugins.trading.preview import preview

    return await preview(request, actor)


__all__ += ["preview_order"]
