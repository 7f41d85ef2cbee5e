"""Position sizing from recent bars: risk a share of equity with a stop a multiple of the ATR
away, then cap the size by the limits, the cash of a spot buy and the strategy's budget."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from quarkbot import hooks
from quarkbot.errors import Conflict, NotFound
from quarkbot.plugin_settings import settings_of
from quarkbot.types import ZERO
from quarkbot_plugins.market_data import api as market
from quarkbot_plugins.risk.equity import HUNDRED
from quarkbot_plugins.risk.limits import current_limits
from quarkbot_plugins.risk.schemas import PositionSizeOut, PositionSizeQuery
from quarkbot_plugins.trading import api as trading

BPS = Decimal(10_000)


def average_true_range(bars: Sequence[Any], period: int) -> Decimal:
    """Mean of the last ``period`` true ranges (max(high-low, |high-prev close|, |low-prev
    close|)); the first bar has no previous close and uses high-low."""
    ranges = []
    for i, bar in enumerate(bars):
        high, low = Decimal(bar.high), Decimal(bar.low)
        if i == 0:
            ranges.append(high - low)
            continue
        prev = Decimal(bars[i - 1].close)
        ranges.append(max(high - low, abs(high - prev), abs(low - prev)))
    window = ranges[-period:]
    return sum(window, ZERO) / len(window)


def floor_to(value: Decimal, step: Decimal) -> Decimal:
    """``value`` rounded down to a multiple of ``step`` (0 when not positive)."""
    if value <= 0:
        return ZERO
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


@dataclass(frozen=True)
class Plan:
    """The risk-based trade: what is risked, where the stop and the target are, the raw size."""

    price: Decimal
    atr: Decimal
    equity: Decimal
    risk_amount: Decimal
    stop_distance: Decimal
    stop_loss: Decimal
    take_profit: Decimal
    raw_size: Decimal

    @classmethod
    def of(cls, q: PositionSizeQuery, price: Decimal, atr: Decimal, equity: Decimal) -> Plan:
        risk_amount = equity * q.risk_per_trade_pct / HUNDRED
        stop_distance = atr * q.atr_multiple
        sign = Decimal(1) if q.side == "buy" else Decimal(-1)
        return cls(
            price=price,
            atr=atr,
            equity=equity,
            risk_amount=risk_amount,
            stop_distance=stop_distance,
            stop_loss=price - sign * stop_distance,
            take_profit=price + sign * stop_distance * q.reward_risk,
            raw_size=risk_amount / stop_distance if stop_distance > 0 else ZERO,
        )


async def _market(symbol: str, q: PositionSizeQuery) -> tuple[Any, list[Any], Decimal]:
    """The instrument, the bars of the ATR and the price (the quote mid, else the last close)."""
    instrument = await market.get_instrument(symbol)
    if instrument is None:
        raise NotFound(f"Unknown instrument {symbol!r}")
    bars = await market.recent_bars(symbol, q.timeframe, q.atr_period + 1)
    if len(bars) < 2:
        raise Conflict(
            f"Not enough {q.timeframe} bars of {symbol} for an ATR", code="NO_MARKET_DATA"
        )
    quote = await market.latest_quote(symbol)
    price = Decimal(quote.mid) if quote is not None else Decimal(bars[-1].close)
    return instrument, bars, price


async def budget_available(instrument: Any, strategy_id: str | None) -> Decimal | None:
    """The strategy's available budget in the instrument's quote currency, when the budget
    plugin is loaded."""
    if strategy_id is None:
        return None
    if "budget" not in {info.name for info in hooks.current_manager().plugins()}:
        return None
    # imported only when loaded: risk works without the budget plugin
    from quarkbot_plugins.budget import api as budget

    return await budget.available(strategy_id, instrument.quote_currency)


async def limit_caps(
    symbol: str, side: str, price: Decimal, v: trading.Valuation
) -> dict[str, Decimal]:
    """The most each set limit leaves room for (the same-way position counts as used)."""
    limits, _row = await current_limits()
    held = v.holding(symbol)
    position = held.quantity if held is not None else ZERO
    same_way = position * (1 if side == "buy" else -1) >= 0
    used = abs(position) if same_way else ZERO
    symbol_limit = limits.position.symbols.get(symbol, limits.position.default)
    pf = limits.portfolio
    caps: dict[str, Decimal] = {}
    if symbol_limit.max_quantity is not None:
        caps["position max_quantity"] = symbol_limit.max_quantity - used
    if symbol_limit.max_notional is not None:
        caps["position max_notional"] = symbol_limit.max_notional / price - used
    if pf.max_order_notional is not None:
        caps["max_order_notional"] = pf.max_order_notional / price
    if pf.max_gross_exposure is not None:
        caps["max_gross_exposure"] = (pf.max_gross_exposure - v.gross) / price
    if pf.max_leverage is not None:
        caps["max_leverage"] = (pf.max_leverage * v.equity - v.gross) / price
    return caps


def money_caps(
    instrument: Any, side: str, price: Decimal, cash: Decimal, budget_left: Decimal | None
) -> dict[str, Decimal]:
    """What the cash (a spot buy) and the strategy's budget pay for, the taker fee included."""
    fee_rate = Decimal(settings_of(trading.TradingSettings).taker_fee_bps) / BPS
    caps: dict[str, Decimal] = {}
    if instrument.kind == "spot" and side == "buy":
        caps["cash"] = cash / (price * (1 + fee_rate))
    if budget_left is not None:
        caps["budget"] = Decimal(budget_left) / (price * (1 + fee_rate))
    return caps


def explain(q: PositionSizeQuery, plan: Plan, bars: int, lot: Decimal, capped: str | None) -> str:
    return (
        f"Risking {q.risk_per_trade_pct}% of equity {plan.equity:.2f} = "
        f"{plan.risk_amount:.2f}; ATR({q.atr_period}, {q.timeframe}) = {plan.atr:.6g} over "
        f"{bars} bars; stop {q.atr_multiple} x ATR = {plan.stop_distance:.6g} from {plan.price} "
        f"at {plan.stop_loss:.6g}, target {q.reward_risk} x that at {plan.take_profit:.6g}; "
        f"size = risk / stop distance = {plan.raw_size:.6g}, rounded down to the lot size {lot}"
        + (f", capped at {capped}" if capped is not None else "")
        + "."
    )


async def position_size(symbol: str, q: PositionSizeQuery) -> PositionSizeOut:
    """The risk-based size, and the most the limits, the cash and the budget allow."""
    instrument, bars, price = await _market(symbol, q)
    v = await trading.valuate()
    plan = Plan.of(q, price, average_true_range(bars, q.atr_period), v.equity)
    budget_left = await budget_available(instrument, q.strategy_id)
    caps = {
        **await limit_caps(symbol, q.side, price, v),
        **money_caps(instrument, q.side, price, v.cash, budget_left),
    }
    lot = Decimal(instrument.lot_size)
    max_size = floor_to(min(caps.values()), lot) if caps else floor_to(plan.raw_size, lot)
    recommended = floor_to(min(plan.raw_size, max_size), lot)
    limited_by = sorted(name for name, cap in caps.items() if floor_to(cap, lot) <= max_size)
    capped = f"{max_size} by {', '.join(limited_by)}" if recommended < plan.raw_size else None
    return PositionSizeOut(
        symbol=symbol,
        side=q.side,
        timeframe=q.timeframe,
        bars_used=len(bars),
        price=price,
        atr=plan.atr,
        equity=v.equity,
        risk_per_trade=plan.risk_amount,
        stop_distance=plan.stop_distance,
        stop_loss=plan.stop_loss,
        take_profit=plan.take_profit,
        recommended_size=recommended,
        max_size=max_size,
        limited_by=limited_by if caps else [],
        explanation=explain(q, plan, len(bars), lot, capped),
    )
