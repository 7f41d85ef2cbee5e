"""Recording the order path: ``on_order_event`` counts events, denials and fills, and observes
fill latency and slippage, from the ``OrderEvent`` that trading passes to the hook. The metrics
are declared by trading (``quarkbot_plugins.trading.telemetry``); they are recorded here by
name, so that trading's order path does no metrics work when this plugin is not loaded."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from quarkbot_plugins.metrics import recorder


def slippage_bps(side: str, price: Decimal, arrival_mid: Decimal | None) -> float | None:
    """Basis points paid against the arrival mid; positive is worse for the order."""
    if arrival_mid is None or arrival_mid <= 0:
        return None
    signed = (price - arrival_mid) if side == "buy" else (arrival_mid - price)
    return float(signed / arrival_mid * 10_000)


def record(event: Any) -> None:
    rec = recorder.current()
    if rec is None:
        return
    order = event.order
    rec.inc("order_events", labels={"event": event.kind})
    if event.kind == "rejected" and order.deny_code:
        rec.inc("order_denials", labels={"code": order.deny_code})
    fill = event.fill
    if fill is None:
        return
    rec.inc("fills", labels={"side": fill.side})
    created: datetime | None = order.created_at
    if created is not None and fill.ts is not None:
        rec.observe("order_fill_latency_seconds", max((fill.ts - created).total_seconds(), 0.0))
    slip = slippage_bps(fill.side, Decimal(fill.price), order.arrival_mid)
    if slip is not None:
        rec.observe("slippage_bps", slip)
