"""The codes risk denies orders with, and how a denial is made (``docs/risk.md`` lists the
codes with the budget plugin's)."""

from __future__ import annotations

from typing import Any

from quarkbot_plugins.trading import api as trading

PLUGIN = "risk"

DENIAL_CODES: dict[str, str] = {
    "KILL_SWITCH_ACTIVE": "Trading is HALTED by the kill switch.",
    "REDUCING_ONLY": "Trading is REDUCING: only orders that reduce a position pass.",
    "CIRCUIT_OPEN": "A circuit breaker is open; details name it and give retry_at.",
    "POSITION_LIMIT": "The position after the order would exceed its quantity or notional limit.",
    "EXPOSURE_LIMIT": "Gross or net exposure after the order would exceed its limit.",
    "LEVERAGE_LIMIT": "Gross exposure / equity after the order would exceed the maximum.",
    "MARGIN_LIMIT": "Perpetual margin / equity after the order would exceed the maximum.",
    "DRAWDOWN_LIMIT": "The account is further below its peak equity than the limit allows.",
    "ORDER_NOTIONAL_LIMIT": "The order's notional exceeds the maximum order notional.",
    "OPEN_ORDERS_LIMIT": "The number of open orders would exceed the maximum.",
    "PDT_PROTECTION": "A 4th day trade in 5 business days below the PDT equity threshold.",
}


def deny(code: str, reason: str, **details: Any) -> trading.Denial:
    """A denial by this plugin; ``details`` go to the order's deny details as given."""
    return trading.Denial(code, reason, PLUGIN, details)
