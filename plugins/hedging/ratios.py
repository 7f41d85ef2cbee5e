"""The hedge ratio of each asset: a setting, or the minimum-variance ratio estimated from bars.

The minimum-variance ratio is the OLS slope of the spot's simple returns on the hedge
instrument's simple returns over the last ``window_bars`` aligned bars (a rolling window: each
analysis re-estimates it on the latest bars), ``beta = cov(r_spot, r_hedge) / var(r_hedge)``,
reported with the correlation of the two series. A cross-asset proxy is sized by that beta.
numpy is imported only when an estimate is computed, never at start-up.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal

from quarkbot.plugin_settings import settings_of
from quarkbot_plugins.hedging.settings import HedgingSettings
from quarkbot_plugins.market_data import api as market

MAX_RATIO = Decimal(2)


@dataclass(frozen=True)
class Estimate:
    """A regression of spot returns on hedge returns; ``beta`` None when there are too few."""

    beta: Decimal | None
    correlation: Decimal | None
    observations: int


@dataclass(frozen=True)
class RatioChoice:
    """The ratio an asset is hedged at, where it came from, and the estimate behind it."""

    ratio: Decimal | None
    source: str  # request | asset_setting | setting | min_variance | proxy_beta
    estimate: Estimate
    note: str | None = None


def aligned_returns(
    spot: list[market.Bar], hedge: list[market.Bar]
) -> tuple[list[float], list[float]]:
    """Simple close-to-close returns of both series over the timestamps they share."""
    hedge_close = {bar.ts: bar.close for bar in hedge}
    pairs = [(bar.close, hedge_close[bar.ts]) for bar in spot if bar.ts in hedge_close]
    spot_returns: list[float] = []
    hedge_returns: list[float] = []
    for (s0, h0), (s1, h1) in itertools.pairwise(pairs):
        spot_returns.append(float(s1 / s0 - 1))
        hedge_returns.append(float(h1 / h0 - 1))
    return spot_returns, hedge_returns


def _decimal(value: float) -> Decimal | None:
    import math

    return Decimal(format(value, ".15g")) if math.isfinite(value) else None


def regress(spot_returns: list[float], hedge_returns: list[float], minimum: int) -> Estimate:
    """OLS slope (with intercept) of spot returns on hedge returns, and their correlation."""
    n = len(spot_returns)
    if n < max(minimum, 3):
        return Estimate(None, None, n)
    try:
        import numpy as np
    except ImportError:  # numpy comes with the numeric extra; without it, no estimate
        return Estimate(None, None, n)

    x = np.asarray(hedge_returns, dtype=float)
    y = np.asarray(spot_returns, dtype=float)
    x_dev, y_dev = x - x.mean(), y - y.mean()
    sxx, syy, sxy = float(x_dev @ x_dev), float(y_dev @ y_dev), float(x_dev @ y_dev)
    if sxx == 0:
        return Estimate(None, None, n)
    correlation = sxy / (sxx * syy) ** 0.5 if syy > 0 else float("nan")
    return Estimate(_decimal(sxy / sxx), _decimal(correlation), n)


async def estimate(spot_symbol: str | None, hedge_symbol: str | None) -> Estimate:
    """The regression on the latest ``window_bars`` bars of the configured timeframe."""
    if spot_symbol is None or hedge_symbol is None:
        return Estimate(None, None, 0)
    settings = settings_of(HedgingSettings)
    count = settings.window_bars + 1
    spot = await market.recent_bars(spot_symbol, settings.bars_timeframe, count)
    hedge = await market.recent_bars(hedge_symbol, settings.bars_timeframe, count)
    spot_returns, hedge_returns = aligned_returns(spot, hedge)
    return regress(spot_returns, hedge_returns, settings.min_observations)


def choose(
    asset: str,
    proxy: bool,
    found: Estimate,
    method: str | None = None,
    requested: Decimal | None = None,
) -> RatioChoice:
    """The ratio ``asset`` is hedged at: by ``method`` (the setting unless given), the
    requested or configured target, a proxy scaled by its beta."""
    settings = settings_of(HedgingSettings)
    method = method or settings.method
    if method == "min_variance":
        if found.beta is not None:
            return RatioChoice(_clamp(found.beta), "min_variance", found)
        if proxy:
            return RatioChoice(None, "min_variance", found, "too few bars for the beta")
    if requested is not None:
        target, source = requested, "request"
    elif asset in settings.target_ratios:
        target, source = settings.target_ratios[asset], "asset_setting"
    else:
        target, source = settings.target_ratio, "setting"
    note = "too few bars for a minimum-variance ratio" if method == "min_variance" else None
    if not proxy:
        return RatioChoice(target, source, found, note)
    if found.beta is None:
        return RatioChoice(None, "proxy_beta", found, "too few bars for the proxy's beta")
    return RatioChoice(_clamp(target * found.beta), "proxy_beta", found, note)


def _clamp(ratio: Decimal) -> Decimal:
    return min(max(ratio, Decimal(0)), MAX_RATIO)
