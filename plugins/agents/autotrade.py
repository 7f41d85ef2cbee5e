"""Auto-trade: a BUY or SELL decision of an instance becomes a market order, only through
``trading.api.place_order`` (the whole pipeline, every gate), under a ``client_order_id``
derived from the decision: a rerun finds the order instead of placing a second one.

The gates are asked first (``preview_order``): a denial (the kill switch, a limit, the budget of
the instance's strategy id) is recorded on the decision and nothing is placed.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

from quarkbot import events
from quarkbot.errors import DomainError
from quarkbot_plugins.agents.models import AgentDecision, AgentInstance
from quarkbot_plugins.agents.service import CHANNEL, strategy_id
from quarkbot_plugins.trading import api as trading


def client_order_id(decision: AgentDecision) -> str:
    """``agt-`` + 40 hex digits of sha256(decision uid): one order per decision."""
    return "agt-" + hashlib.sha256(decision.uid.encode()).hexdigest()[:40]


def _request(instance: AgentInstance, decision: AgentDecision, coid: str) -> Any:
    size = decision.proposal.get("size")
    return trading.OrderRequest(
        client_order_id=coid,
        symbol=decision.symbol,
        side="buy" if decision.action == "BUY" else "sell",
        type="market",
        quantity=Decimal(str(size)) if size else Decimal(instance.trade_quantity),
        strategy_id=strategy_id(instance.id),
        strategy_name=instance.name,
    )


async def trade(instance: AgentInstance, decision: AgentDecision) -> int:
    """Place (or find) the decision's order; 1 when an order was created now."""
    coid = client_order_id(decision)
    outcome: dict[str, Any] = {"client_order_id": coid}
    actor = f"agent:{instance.id}"
    found = await trading.find_order(coid)
    created = False
    if found is None and decision.action == "SELL" and not await _long(decision.symbol):
        outcome |= {"order_status": "skipped", "deny_code": "NO_POSITION"}
    elif found is None and (denial := await _denied(_request(instance, decision, coid), actor)):
        outcome |= {"order_status": "denied", "deny_code": denial}
    else:
        try:
            order, created = await trading.place_order(_request(instance, decision, coid), actor)
        except DomainError as exc:
            outcome |= {"order_status": "error", "deny_code": exc.code or "INVALID"}
        else:
            outcome |= {"order_id": order.id, "order_status": str(order.status)}
            outcome["deny_code"] = order.deny_code
    await AgentDecision.filter(id=decision.id).update(**outcome)
    decision.update_from_dict(outcome)
    if created:
        await announce(decision, order)
    return int(created)


async def announce(decision: AgentDecision, order: Any) -> None:
    """The LLM-BTC seed's live trade message, on agents:decisions (type ``trade``)."""
    price = order.avg_fill_price if order.avg_fill_price is not None else order.arrival_mid
    data = {"id": order.id, "asset": decision.symbol, "action": decision.action, "price": price,
            "reasoning": decision.reasoning, "confidence": decision.confidence,
            "decision_uid": decision.uid}  # fmt: skip
    await events.publish(CHANNEL, "trade", data)


async def _denied(request: Any, actor: str) -> str | None:
    """The first gate's denial code, or None when every gate passes."""
    try:
        found = await trading.preview_order(request, actor)
    except DomainError as exc:
        return exc.code or "INVALID"
    denials = found.get("denials") or []
    if found.get("would_submit") or not denials:
        return None
    first = denials[0]
    return str(first.get("code") if isinstance(first, dict) else first.code)


async def _long(symbol: str) -> bool:
    position = await trading.Position.get_or_none(
        account=trading.trading_settings().account, symbol=symbol
    )
    return position is not None and Decimal(position.quantity) > 0
