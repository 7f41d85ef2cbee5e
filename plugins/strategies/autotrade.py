"""Auto-trade: a signal becomes one market order through the trading pipeline (every gate).

The order's ``client_order_id`` is derived from the signal, so a rerun of the job finds the
order it placed before instead of placing a second one.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from quarkbot.errors import DomainError
from quarkbot.http_errors import status_of
from quarkbot_plugins.strategies.models import Signal, StrategyInstance
from quarkbot_plugins.strategies.runtime import Summary
from quarkbot_plugins.strategies.service import strategy_id_of
from quarkbot_plugins.trading import api as trading


def client_order_id(strategy_id: int, symbol: str, ts: datetime, side: str) -> str:
    """``sig-`` + 40 hex digits of sha256(instance|symbol|bar time|side): one order per signal."""
    raw = f"{strategy_id}|{symbol}|{ts.astimezone(UTC).isoformat()}|{side}"
    return "sig-" + hashlib.sha256(raw.encode()).hexdigest()[:40]


async def trade(instance: StrategyInstance, row: Signal, summary: Summary) -> None:
    """A market order of ``trade_quantity``; the outcome (order id and status, or why there is
    none) is kept on the signal."""
    coid = client_order_id(instance.id, row.symbol, row.ts, row.side)
    # a sell placed before a crash has emptied the position: the order, not the position, says
    # whether this signal already traded
    placed = await trading.find_order(coid)
    if row.side == "sell" and placed is None and not await _long(row.symbol):
        outcome: dict[str, Any] = {
            "client_order_id": coid,
            "order_status": "skipped",
            "order_error": "no long position to sell",
        }
    else:
        outcome = await _place(instance, row, coid, summary)
    await Signal.filter(id=row.id).update(**outcome)
    for key, value in outcome.items():
        setattr(row, key, value)


async def _place(
    instance: StrategyInstance, row: Signal, coid: str, summary: Summary
) -> dict[str, Any]:
    request = trading.OrderRequest(
        client_order_id=coid,
        symbol=row.symbol,
        side=row.side,
        type="market",
        quantity=Decimal(instance.trade_quantity),
        strategy_id=strategy_id_of(instance),
        strategy_name=instance.name,
    )
    outcome: dict[str, Any] = {"client_order_id": coid}
    try:
        order, created = await trading.place_order(request, actor=f"strategy:{instance.id}")
    except DomainError as exc:
        return outcome | {"order_status": "error", "order_error": refusal(exc)}
    summary.orders += int(created)
    outcome.update(order_id=order.id, order_status=order.status)
    if order.deny_code:
        outcome["order_error"] = f"{order.deny_code}: {order.deny_reason}"
    return outcome


def refusal(exc: DomainError) -> str:
    """``<code>: <detail>`` of an order the pipeline refused; without a code, the status the
    API answers it with (``422: [...]``), as the signals have always shown it."""
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return f"{exc.code or status_of(exc)}: {detail}"


async def _long(symbol: str) -> bool:
    position = await trading.Position.get_or_none(
        account=trading.trading_settings().account, symbol=symbol
    )
    return position is not None and Decimal(position.quantity) > 0
