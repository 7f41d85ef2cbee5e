"""Position and cash arithmetic, pure and exact (Decimal), shared by fills and rebuilds.

Realized PnL uses the average-cost method: buying into a position moves its average price;
reducing it realizes ``closed quantity x (exit price - average price)`` (sign-adjusted for shorts)
and leaves the average unchanged; flipping through zero opens the remainder at the fill price.

Cash: a spot fill exchanges the full notional (``-signed quantity x price - fee``); a perpetual
fill settles only realized PnL minus the fee (the notional is margined, not paid).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from quarkbot.types import ZERO


def signed(side: str, quantity: Decimal) -> Decimal:
    return quantity if side == "buy" else -quantity


@dataclass(frozen=True)
class PositionState:
    quantity: Decimal = ZERO
    avg_price: Decimal = ZERO


@dataclass(frozen=True)
class FillEffect:
    position: PositionState
    realized_pnl: Decimal
    closed_quantity: Decimal  # the part of the fill that reduced the old position
    cash_delta: Decimal


def apply_fill(
    state: PositionState,
    side: str,
    quantity: Decimal,
    price: Decimal,
    fee: Decimal,
    kind: str,
) -> FillEffect:
    """The new position, realized PnL and cash change of one fill."""
    delta = signed(side, quantity)
    old = state.quantity
    realized = ZERO
    closed = ZERO
    if old == 0 or (old > 0) == (delta > 0):
        new_qty = old + delta
        avg = (abs(old) * state.avg_price + quantity * price) / abs(new_qty)
    else:
        closed = min(quantity, abs(old))
        direction = Decimal(1) if old > 0 else Decimal(-1)
        realized = closed * (price - state.avg_price) * direction
        new_qty = old + delta
        if new_qty == 0:
            avg = ZERO
        elif (new_qty > 0) == (old > 0):
            avg = state.avg_price
        else:
            avg = price  # flipped through zero: the remainder opens at the fill price
    if kind == "spot":
        cash = -delta * price - fee
    else:
        cash = realized - fee
    return FillEffect(PositionState(new_qty, avg), realized, closed, cash)


def unrealized_pnl(state: PositionState, mark: Decimal) -> Decimal:
    return state.quantity * (mark - state.avg_price)


def position_value(kind: str, state: PositionState, mark: Decimal) -> Decimal:
    """What a position adds to equity: spot holdings at the mark, perpetuals their open PnL."""
    if kind == "spot":
        return state.quantity * mark
    return unrealized_pnl(state, mark)
