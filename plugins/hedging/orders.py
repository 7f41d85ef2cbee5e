"""Hedge orders: each leg goes through ``trading.api.place_order`` (the whole pipeline and every
gate) as a market order carrying the ``hedging`` strategy id and a ``client_order_id`` derived
from its execution (``hedging:<execution id>:<leg>``), so placing a leg again never places a
second order."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from quarkbot.errors import DomainError
from quarkbot.plugin_settings import settings_of
from quarkbot.types import clean_decimal, utc_now
from quarkbot_plugins.hedging.books import FAILED, STRATEGY_ID
from quarkbot_plugins.hedging.models import HedgeLeg
from quarkbot_plugins.hedging.schemas import DenialOut, PreviewOut, TradeOut
from quarkbot_plugins.hedging.settings import HedgingSettings
from quarkbot_plugins.trading import api as trading

REJECTED = "REJECTED"


@dataclass(frozen=True)
class LegSpec:
    """An order to place: which asset it hedges, on which instrument, which way, how much."""

    asset: str
    symbol: str
    side: str
    quantity: Decimal
    reduce_only: bool = False
    version: int = 0  # the instrument's HedgeSlot version it was planned on


def client_order_id(execution_uid: str, seq: int) -> str:
    return f"{STRATEGY_ID}:{execution_uid}:{seq}"


def order_request(spec: LegSpec | HedgeLeg, cid: str) -> trading.OrderRequest:
    return trading.OrderRequest(
        client_order_id=cid,
        symbol=spec.symbol,
        side=spec.side,
        type="market",
        quantity=clean_decimal(Decimal(spec.quantity)),
        leverage=settings_of(HedgingSettings).leverage,
        reduce_only=spec.reduce_only,
        strategy_id=STRATEGY_ID,
        strategy_name=STRATEGY_ID,
    )


async def place_leg(leg: HedgeLeg, actor: str) -> None:
    """Place one leg (again: a retried ``client_order_id`` returns the first order)."""
    try:
        order, _created = await trading.place_order(order_request(leg, leg.client_order_id), actor)
    except DomainError as exc:
        leg.status, leg.error_code = FAILED, exc.code
        leg.error = str(exc.detail)[:500]
    else:
        leg.order_id, leg.status = order.id, str(order.status)
        if order.status == REJECTED:
            leg.error_code = order.deny_code
        elif leg.placed_at is None:
            leg.placed_at = utc_now()
    await leg.save()


def _price(order: Any) -> Decimal | None:
    if order is None:
        return None
    return order.avg_fill_price if order.avg_fill_price is not None else order.arrival_mid


async def trade_out(leg: HedgeLeg) -> TradeOut:
    """The leg as the API shows it, with its order's current state."""
    order = await trading.find_order(leg.client_order_id)
    return TradeOut(
        asset=leg.symbol,
        side=leg.side,
        amount=Decimal(leg.quantity),
        price=_price(order),
        hedged_asset=leg.asset,
        client_order_id=leg.client_order_id,
        order_id=order.id if order is not None else leg.order_id,
        status=str(order.status) if order is not None else leg.status,
        filled_quantity=Decimal(order.filled_quantity) if order is not None else Decimal(0),
        reduce_only=leg.reduce_only,
        deny_code=order.deny_code if order is not None else leg.error_code,
        deny_reason=order.deny_reason if order is not None else None,
        deny_plugin=order.deny_plugin if order is not None else None,
        error=leg.error,
    )


def _denial(found: Any) -> DenialOut:
    if isinstance(found, dict):
        return DenialOut(**{k: found.get(k) for k in ("code", "reason", "plugin")})
    return DenialOut(code=found.code, reason=found.reason, plugin=getattr(found, "plugin", None))


async def preview_leg(spec: LegSpec, seq: int, actor: str) -> PreviewOut:
    """Every gate's verdict on the leg (``trading.api.preview_order``), nothing stored."""
    base = {
        "asset": spec.symbol,
        "side": spec.side,
        "amount": spec.quantity,
        "hedged_asset": spec.asset,
        "reduce_only": spec.reduce_only,
    }
    empty = dict.fromkeys(("estimated_price", "notional", "estimated_fee", "margin_required"), None)
    request = order_request(spec, client_order_id("preview", seq))
    try:
        found = await trading.preview_order(request, actor)
    except DomainError as exc:
        return PreviewOut(
            **base,
            **empty,
            would_submit=False,
            denials=[],
            position_before=None,
            position_after=None,
            error=str(exc.detail),
        )
    return PreviewOut(
        **base,
        would_submit=found["would_submit"],
        denials=[_denial(d) for d in found["denials"]],
        estimated_price=found["estimated_price"],
        notional=found["notional"],
        estimated_fee=found["estimated_fee"],
        margin_required=found["margin_required"],
        position_before=found["position_before"],
        position_after=found["position_after"],
    )
