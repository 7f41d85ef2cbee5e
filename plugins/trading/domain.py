"""Order vocabulary: statuses, types, and the stable denial codes (docs/trading.md lists them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

Side = Literal["buy", "sell"]
OrderType = Literal["market", "limit", "stop", "stop_limit"]
TimeInForce = Literal["day", "gtc", "ioc"]

PENDING_SUBMIT = "PENDING_SUBMIT"
ACCEPTED = "ACCEPTED"
PARTIALLY_FILLED = "PARTIALLY_FILLED"
FILLED = "FILLED"
CANCELED = "CANCELED"
EXPIRED = "EXPIRED"
REJECTED = "REJECTED"
UNKNOWN = "UNKNOWN"

STATUSES = (
    PENDING_SUBMIT,
    ACCEPTED,
    PARTIALLY_FILLED,
    FILLED,
    CANCELED,
    EXPIRED,
    REJECTED,
    UNKNOWN,
)
OPEN_STATUSES = frozenset({PENDING_SUBMIT, ACCEPTED, PARTIALLY_FILLED, UNKNOWN})
TERMINAL_STATUSES = frozenset({FILLED, CANCELED, EXPIRED, REJECTED})

# Denial codes raised by the trading plugin itself (risk and budget plugins add their own).
DENIAL_CODES: dict[str, str] = {
    "SHORT_NOT_ALLOWED": "A spot instrument cannot be sold short.",
    "INSUFFICIENT_FUNDS": "Not enough cash for the notional plus the estimated fee.",
    "LEVERAGE_NOT_ALLOWED": "Leverage above 1 on spot, or above the instrument's maximum.",
    "REDUCE_ONLY_VIOLATION": "A reduce-only order would open or increase a position.",
    "INSTRUMENT_INACTIVE": "The instrument is not active for trading.",
    "SUBMIT_INTERRUPTED": "The process stopped before the order reached the broker; not sent.",
    "BROKER_REJECTED": "The broker refused the order.",
    "BROKER_UNKNOWN": "The broker never received the order (settled by the reconciler).",
}

# Errors answered before an order is stored.
NO_MARKET_DATA = "NO_MARKET_DATA"
DUPLICATE_CLIENT_ORDER_ID = "DUPLICATE_CLIENT_ORDER_ID"


@dataclass(frozen=True)
class Denial:
    """What a ``check_order`` hook returns to stop an order."""

    code: str
    reason: str
    plugin: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OrderContext:
    """What ``check_order`` hooks get besides the order: market state and the account."""

    instrument: Any
    quote: Any
    position_quantity: Decimal
    cash: Decimal
    phase: Literal["check", "pre_submit", "preview"] = "check"
    extra: dict[str, Any] = field(default_factory=dict)

    def exposure_after(self, side: str, quantity: Decimal) -> Decimal:
        delta = quantity if side == "buy" else -quantity
        return self.position_quantity + delta

    def reduces_exposure(self, side: str, quantity: Decimal) -> bool:
        after = self.exposure_after(side, quantity)
        return abs(after) < abs(self.position_quantity) and (
            after == 0 or (after > 0) == (self.position_quantity > 0)
        )


@dataclass(frozen=True)
class FillReport:
    """A broker's report of one execution."""

    fill_id: str
    client_order_id: str
    account: str
    quantity: Decimal
    price: Decimal
    fee: Decimal
    liquidity: Literal["maker", "taker"]
    ts: Any


@dataclass(frozen=True)
class OrderEvent:
    """What ``on_order_event`` hooks receive after every state change."""

    kind: Literal[
        "submitted",
        "accepted",
        "filled",
        "partially_filled",
        "canceled",
        "expired",
        "rejected",
        "unknown",
    ]
    order: Any
    fill: Any = None
