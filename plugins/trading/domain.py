"""Order vocabulary: requests, statuses, types, and the stable denial codes (docs/trading.md
lists them)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

Side = Literal["buy", "sell"]
OrderType = Literal["market", "limit", "stop", "stop_limit"]
TimeInForce = Literal["day", "gtc", "ioc"]


class OrderStatus(StrEnum):
    """Where an order is in its life; the values are what the API and the database spell."""

    PENDING_SUBMIT = "PENDING_SUBMIT"  # stored, gates running or broker call in flight
    ACCEPTED = "ACCEPTED"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"
    UNKNOWN = "UNKNOWN"  # the broker call failed: outcome unknown until reconciled


STATUSES: tuple[OrderStatus, ...] = tuple(OrderStatus)
#: Working orders: they may still fill, and hold cash and budget.
OPEN_STATUSES = frozenset(
    {
        OrderStatus.PENDING_SUBMIT,
        OrderStatus.ACCEPTED,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.UNKNOWN,
    }
)
#: Settled orders: nothing about them changes any more.
TERMINAL_STATUSES = frozenset(OrderStatus) - OPEN_STATUSES

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

# Conflict codes answered before an order is stored, and when it cannot be canceled.
NO_MARKET_DATA = "NO_MARKET_DATA"
DUPLICATE_CLIENT_ORDER_ID = "DUPLICATE_CLIENT_ORDER_ID"
ORDER_NOT_OPEN = "ORDER_NOT_OPEN"


@dataclass(frozen=True)
class OrderRequest:
    """What a client asks for; ``fingerprint`` tells a retry from a reuse of its id."""

    client_order_id: str
    symbol: str
    side: str
    type: str
    quantity: Decimal
    price: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: str = "gtc"
    leverage: Decimal = Decimal(1)
    reduce_only: bool = False
    strategy_id: str | None = None
    strategy_name: str | None = None

    def fingerprint(self) -> str:
        # the fields are scalars: read directly (``asdict`` deep-copies), the same JSON as ever
        values = ((name, getattr(self, name)) for name in _REQUEST_FIELDS)
        body = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in values}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


_REQUEST_FIELDS = tuple(f.name for f in fields(OrderRequest))


@dataclass(frozen=True)
class Denial:
    """What a ``check_order`` hook returns to stop an order."""

    code: str
    reason: str
    plugin: str = ""
    details: dict[str, Any] = field(default_factory=dict)


#: When gates run: ``check`` after storing, ``pre_submit`` right before the broker call (state may
#: have changed meanwhile), ``preview`` for an order that will not be placed.
GatePhase = Literal["check", "pre_submit", "preview"]


@dataclass(frozen=True)
class OrderContext:
    """What ``check_order`` hooks get besides the order: market state and the account."""

    instrument: Any
    quote: Any
    position_quantity: Decimal
    cash: Decimal
    phase: GatePhase = "check"
    #: cash held by the working orders (the order being checked included once it is stored)
    cash_held: Decimal = Decimal(0)
    extra: dict[str, Any] = field(default_factory=dict)
    #: the account's position and cash rows the gates read (``valuation.AccountRows``), which
    #: ``valuate(ctx)`` values once for every hook of the check (kept in ``memo``)
    account_rows: Any = None
    memo: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

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


OrderEventKind = Literal[
    "submitted",
    "accepted",
    "filled",
    "partially_filled",
    "canceled",
    "expired",
    "rejected",
    "unknown",
]


@dataclass(frozen=True)
class OrderEvent:
    """What ``on_order_event`` hooks receive after every state change."""

    kind: OrderEventKind
    order: Any
    fill: Any = None
