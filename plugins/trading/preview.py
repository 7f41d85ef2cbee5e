"""An order's preview: every gate's would-be denial, the fee and the impact, with nothing stored
or sent. The same validation and gates as ``pipeline.place_order`` (phase ``preview``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from quarkbot_plugins.trading.domain import OrderRequest
from quarkbot_plugins.trading.gates import estimate_fee, estimate_price, every_denial, order_context
from quarkbot_plugins.trading.pipeline import draft_order
from quarkbot_plugins.trading.validation import priceable


async def preview(request: OrderRequest, actor: str) -> dict[str, Any]:
    """Everything but storing and submitting: would-be denials, fees and impact."""
    instrument, quote = await priceable(request)
    draft = draft_order(request, actor)
    draft.id = 0  # excludes no working order from the checks
    ctx = await order_context(draft, instrument, quote, "preview")
    denials = await every_denial(draft, ctx)
    price = estimate_price(draft, quote)
    notional = Decimal(request.quantity) * price
    return {
        "would_submit": not denials,
        "denials": denials,
        "estimated_price": price,
        "notional": notional,
        "estimated_fee": estimate_fee(notional),
        "margin_required": notional / Decimal(request.leverage),
        "position_before": ctx.position_quantity,
        "position_after": ctx.exposure_after(request.side, Decimal(request.quantity)),
        "cash_available": ctx.cash,
    }
