"""What the regime allows: the risk plugin's limits overlay (``check_risk_limits``) and the
strategy signal gate (``check_signal``). Both read stored readings only (no numeric imports)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from quarkbot.plugin_settings import settings_of
from quarkbot.types import TIMEFRAME_SECONDS, as_utc, utc_now
from quarkbot_plugins.regime import gate_cache, params
from quarkbot_plugins.regime.models import RegimeReading
from quarkbot_plugins.regime.settings import RegimeSettings
from quarkbot_plugins.trading import api as trading

CODE = "REGIME_LIMIT"
PLUGIN = "regime"


async def current_reading(symbol: str, now: datetime | None = None) -> RegimeReading | None:
    """The symbol's latest reading (any timeframe) unless it is older than
    ``limits_max_age_bars`` bars of its timeframe."""
    reading = await gate_cache.latest_reading(symbol)
    if reading is None:
        return None
    age = ((now or utc_now()) - as_utc(reading.ts)).total_seconds()
    limit = settings_of(RegimeSettings).limits_max_age_bars + 1
    return reading if age <= limit * TIMEFRAME_SECONDS.get(reading.timeframe, 86_400) else None


def _deny(regime: str, what: str, **details: Any) -> trading.Denial:
    return trading.Denial(CODE, f"regime {regime}: {what}", PLUGIN, {"regime": regime, **details})


async def risk_denial(order: Any, ctx: Any, limits: Any) -> trading.Denial | None:
    """An exposure-increasing order held to its symbol's current regime's parameters."""
    reading = await current_reading(order.symbol)
    if reading is None:
        return None
    regime, p = reading.regime, await gate_cache.parameters(reading.regime)
    vol = reading.features.get("volatility")
    if vol is not None and vol > p.volatility_threshold:
        what = f"volatility {vol:.2f} is above the threshold {p.volatility_threshold}"
        return _deny(regime, what, volatility=vol, limit=p.volatility_threshold)
    price = trading.estimate_price(order, ctx.quote)
    after_notional = abs(ctx.exposure_after(order.side, Decimal(order.quantity))) * price
    v = await trading.valuate(ctx)
    equity = v.equity
    cap = Decimal(str(p.position_limit)) * equity
    if after_notional > cap:
        return _deny(regime, f"position notional {after_notional:.2f} in {order.symbol} would "
                     f"exceed {p.position_limit} x equity ({cap:.2f})",
                     notional_after=str(after_notional), limit=str(cap))  # fmt: skip
    max_leverage = getattr(getattr(limits, "portfolio", None), "max_leverage", None)
    if max_leverage is None or equity <= 0:
        return None
    held = v.holding(order.symbol)
    gross = v.gross - (abs(held.notional) if held is not None else 0) + after_notional
    allowed = Decimal(max_leverage) * Decimal(str(p.leverage_multiplier))
    if gross / equity > allowed:
        return _deny(regime, f"leverage {gross / equity:.2f} would exceed {allowed:.2f} "
                     f"(max_leverage x {p.leverage_multiplier})",
                     leverage_after=str(gross / equity), limit=str(allowed))  # fmt: skip
    return None


async def signal_veto(instance: Any, signal: Any) -> str | None:
    """Why a strategy instance's signal must not trade in the regime at its bar, or None."""
    allowed = await params.allowed_regimes(instance.id)
    if not allowed:
        return None
    reading = (
        await RegimeReading.filter(
            symbol=signal.symbol, timeframe=instance.timeframe, ts__lte=signal.ts
        )
        .order_by("-ts")
        .first()
    )
    regime = reading.regime if reading is not None else None
    if regime in allowed:
        return None
    return f"regime {regime or 'unknown (no reading)'} is not in allowed_regimes {allowed}"
