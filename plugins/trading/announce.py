"""Telling the rest of the system about an order's change: hooks, then events.

Every state change calls ``on_order_event`` (budget and portfolio follow orders) and publishes
on ``execution:orders``; a fill is also published on ``execution:fills``, ``trades`` and
``portfolio``. ``announce`` is called inside the change's ``events.atomic()`` transaction: the
events go to the outbox with the change (a crash or a Redis outage after the commit loses none),
the hooks run right after the commit, then the events are published. Neither undoes the change:
a failing hook is logged.
"""

from __future__ import annotations

import logging
from typing import Any

from quarkbot import events, hooks
from quarkbot_plugins.trading.domain import OrderEvent, OrderEventKind
from quarkbot_plugins.trading.models import Fill, Order

log = logging.getLogger("quarkbot.trading")

#: The order fields an ``execution:orders`` event carries.
ORDER_EVENT_FIELDS = (
    "id",
    "client_order_id",
    "account",
    "symbol",
    "side",
    "type",
    "time_in_force",
    "quantity",
    "price",
    "stop_price",
    "leverage",
    "status",
    "filled_quantity",
    "avg_fill_price",
    "fees",
    "deny_code",
    "deny_reason",
    "deny_plugin",
    "strategy_id",
    "created_at",
    "updated_at",
)


def order_payload(order: Order) -> dict[str, Any]:
    return {name: getattr(order, name) for name in ORDER_EVENT_FIELDS}


def fill_payload(fill: Fill, order: Order) -> dict[str, Any]:
    return {
        "fill_id": fill.fill_id,
        "order_id": order.id,
        "client_order_id": order.client_order_id,
        "symbol": fill.symbol,
        "side": fill.side,
        "quantity": fill.quantity,
        "price": fill.price,
        "fee": fill.fee,
        "liquidity": fill.liquidity,
        "realized_pnl": fill.realized_pnl,
        "ts": fill.ts,
    }


async def announce(kind: OrderEventKind, order: Order, fill: Fill | None = None) -> None:
    """Inside the change's ``events.atomic()``: its events into the outbox now, the hooks after
    the commit (budget and portfolio follow orders), then the events are published."""
    await events.publish("execution:orders", f"order.{kind}", order_payload(order))
    if fill is not None:
        payload = fill_payload(fill, order)
        await events.publish("execution:fills", "fill", payload)
        await events.publish("trades", "fill", payload)
        await events.publish("portfolio", "changed", {"symbol": order.symbol})
    event = OrderEvent(kind, order, fill)

    async def follow() -> None:
        try:
            await hooks.call("on_order_event", event=event)
        except Exception:
            log.exception("an on_order_event hook failed for %s (%s)", order.client_order_id, kind)

    events.on_commit(follow)
