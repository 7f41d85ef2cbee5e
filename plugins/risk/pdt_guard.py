"""The pattern-day-trader guard in the gate, and its status: the dated rule itself is in
:mod:`quarkbot_plugins.risk.pdt`; here are the day trades counted from the trading books and
the decision for a closing order."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from quarkbot.plugin_settings import settings_of
from quarkbot.types import utc_now
from quarkbot_plugins.market_data import api as market
from quarkbot_plugins.risk import pdt
from quarkbot_plugins.risk.denials import deny
from quarkbot_plugins.risk.schemas import PdtStatusOut
from quarkbot_plugins.risk.settings import RiskSettings
from quarkbot_plugins.trading import api as trading


def rule_in_force(instrument_cls: str, now: datetime) -> pdt.PatternDayTraderRule | None:
    """The rule for the class today, with the settings' overrides; None where it is off."""
    settings = settings_of(RiskSettings)
    if instrument_cls not in settings.pdt_classes:
        return None
    return pdt.rule_for(
        instrument_cls,
        now.date(),
        equity_threshold=settings.pdt_equity_threshold,
        max_day_trades=settings.pdt_max_day_trades,
    )


async def day_trades_used(rule: pdt.PatternDayTraderRule, now: datetime) -> int:
    """Closing orders whose round trip opened and closed on one trading day, in the window."""
    today = rule.trading_day(now)
    since = datetime.combine(
        rule.window_start(today), datetime.min.time(), tzinfo=ZoneInfo(rule.timezone)
    )
    rows = await trading.Trade.filter(
        account=settings_of(trading.TradingSettings).account, closed_at__gte=since
    ).values("symbol", "opened_at", "closed_at", "closing_fill__order_id")
    guarded = settings_of(RiskSettings).pdt_classes
    classes: dict[str, str] = {}
    orders = set()
    for row in rows:
        symbol = row["symbol"]
        if symbol not in classes:
            classes[symbol] = await _instrument_class(symbol)
        if classes[symbol] not in guarded:
            continue
        if rule.trading_day(row["opened_at"]) == rule.trading_day(row["closed_at"]):
            orders.add(row["closing_fill__order_id"])
    return len(orders)


async def _instrument_class(symbol: str) -> str:
    instrument = await market.get_instrument(symbol)
    return pdt.instrument_class(instrument) if instrument else "other"


async def _opened_today(
    rule: pdt.PatternDayTraderRule, symbol: str, now: datetime, ctx: trading.OrderContext
) -> bool:
    rows = ctx.account_rows
    if rows is not None:  # the account as the gates read it for this order
        position = rows.position(symbol)
    else:
        account = settings_of(trading.TradingSettings).account
        position = await trading.Position.get_or_none(account=account, symbol=symbol)
    if position is None or position.opened_at is None:
        return False
    return rule.trading_day(position.opened_at) == rule.trading_day(now)


async def check_pdt(order: Any, ctx: trading.OrderContext, now: datetime) -> trading.Denial | None:
    """Deny a closing order that would complete one day trade too many below the threshold."""
    rule = rule_in_force(pdt.instrument_class(ctx.instrument), now)
    if rule is None or not ctx.reduces_exposure(order.side, Decimal(order.quantity)):
        return None  # only a closing order can complete a day trade
    if not await _opened_today(rule, order.symbol, now, ctx):
        return None
    used = await day_trades_used(rule, now)
    if used < rule.max_day_trades:
        return None
    equity = (await trading.valuate(ctx)).equity
    if not rule.denies(used, equity):
        return None
    return deny(
        "PDT_PROTECTION",
        f"this would be day trade {used + 1} in {rule.window_business_days} business days with "
        f"equity {equity:.2f} below {rule.equity_threshold} ({rule.name})",
        day_trades_used=used,
        max_day_trades=rule.max_day_trades,
        equity=str(equity),
        threshold=str(rule.equity_threshold),
    )


async def pdt_status(instrument_cls: str) -> PdtStatusOut:
    """Whether the guard applies to the class, and the day trades used and left."""
    now = utc_now()
    rule = rule_in_force(instrument_cls, now)
    reference = rule or pdt.rule_for("us_equity", now.date()) or pdt.PatternDayTraderRule()
    settings = settings_of(RiskSettings)
    used = await day_trades_used(reference, now)
    equity = (await trading.valuate()).equity
    threshold = settings.pdt_equity_threshold
    max_trades = settings.pdt_max_day_trades
    return PdtStatusOut(
        enabled=rule is not None,
        instrument_class=instrument_cls,
        rule=rule.name if rule else None,
        effective_from=rule.effective_from.isoformat() if rule else None,
        day_trades_used=used,
        max_day_trades=max_trades,
        window_business_days=reference.window_business_days,
        account_threshold=threshold,
        equity=equity,
        day_trades_left=None if rule is None or equity >= threshold else max(max_trades - used, 0),
    )
