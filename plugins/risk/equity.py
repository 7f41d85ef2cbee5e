"""The account's equity as risk follows it: the running peak and one sample a minute (written
by the monitor), and the exposure of each position as a fraction of equity now."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from quarkbot.plugin_settings import settings_of
from quarkbot.types import ZERO, utc_now
from quarkbot_plugins.risk.gate_version import bump
from quarkbot_plugins.risk.models import EquitySample, TradingState
from quarkbot_plugins.risk.trading_state import STATE_ID, state_row
from quarkbot_plugins.trading import api as trading

HUNDRED = Decimal(100)


def percent_below(reference: Decimal, value: Decimal) -> Decimal:
    """How far ``value`` is below ``reference``, in percent of it (0 without a reference)."""
    return (reference - value) / reference * HUNDRED if reference > 0 else ZERO


async def record_equity(valuation: trading.Valuation, now: datetime | None = None) -> None:
    """Raise the running peak, and keep one equity sample per minute (the first of the minute
    wins; reruns change nothing). Reads first, so that an idle monitor writes once a minute."""
    now = now or utc_now()
    account = settings_of(trading.TradingSettings).account
    state = await state_row()
    if state.peak_equity is None or Decimal(state.peak_equity) < valuation.equity:
        raised = await TradingState.filter(
            Q(peak_equity__isnull=True) | Q(peak_equity__lt=valuation.equity), id=STATE_ID
        ).update(peak_equity=valuation.equity)
        if raised:
            await bump()  # the drawdown limit reads the peak
    bucket = now.replace(second=0, microsecond=0)
    if await EquitySample.exists(account=account, bucket=bucket):
        return
    try:
        await EquitySample.create(account=account, bucket=bucket, equity=valuation.equity, ts=now)
    except IntegrityError:
        pass


def peak_equity(current: Decimal, state: TradingState | None) -> Decimal:
    """The highest equity seen: the initial capital, the monitor's running peak, and now."""
    candidates = [current, Decimal(settings_of(trading.TradingSettings).initial_capital)]
    if state is not None and state.peak_equity is not None:
        candidates.append(Decimal(state.peak_equity))
    return max(candidates)


async def exposure() -> dict[str, Decimal | None]:
    """Signed notional of each open position as a fraction of equity, and the gross total
    (None when equity is 0)."""
    v = await trading.valuate()
    out: dict[str, Decimal | None] = {}
    for h in sorted(v.holdings, key=lambda h: h.symbol):
        out[h.symbol] = h.notional / v.equity if v.equity else None
    out["total"] = v.gross / v.equity if v.equity else None
    return out
