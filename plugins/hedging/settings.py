"""Settings of the hedging plugin (environment prefix ``QUARKBOT_HEDGING_``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from quarkbot.types import SYMBOL_PATTERN, Timeframe

#: A hedge ratio: hedge notional / spot notional. 1 is delta-neutral, 0 unhedged.
Ratio = Annotated[Decimal, Field(ge=0, le=2, allow_inf_nan=False)]
Method = Literal["fixed", "min_variance"]


class HedgingSettings(BaseSettings):
    """Targets, the anti-churn rule, the bars of the minimum-variance ratio, auto-hedge."""

    model_config = SettingsConfigDict(env_prefix="QUARKBOT_HEDGING_", extra="ignore")

    target_ratio: Ratio = Field(Decimal(1), description="Target hedge ratio (1 = delta-neutral).")
    target_ratios: dict[str, Ratio] = Field(
        default_factory=dict, description='Per-asset target ratios (JSON: {"ETH": 0.5}).'
    )
    method: Method = Field(
        "fixed",
        description="fixed: the target ratio; min_variance: the OLS slope of spot returns on "
        "hedge returns over the last window_bars bars.",
    )
    instruments: dict[str, Annotated[str, Field(pattern=SYMBOL_PATTERN)]] = Field(
        default_factory=dict,
        description='Hedge instrument per asset (JSON: {"BTC": "BTC-PERP"}); default <ASSET>-PERP.',
    )
    proxies: dict[str, Annotated[str, Field(pattern=SYMBOL_PATTERN)]] = Field(
        default_factory=dict,
        description='Cross-asset proxy hedges (JSON: {"SOL": "ETH-PERP"}), sized by beta.',
    )
    min_notional: Decimal = Field(
        Decimal(10), ge=0, description="Act only on a gap of at least this notional."
    )
    cooldown_seconds: int = Field(
        60, ge=0, le=7 * 86_400, description="Seconds after a hedge order before the next one."
    )
    band: Ratio = Field(
        Decimal("0.05"), description="Auto-hedge acts when |ratio - target| exceeds this."
    )
    auto_hedge: bool = Field(False, description="Run the auto-hedge cron (every minute).")
    leverage: Decimal = Field(Decimal(1), ge=1, le=125, description="Leverage of hedge orders.")
    bars_timeframe: Timeframe = Field("1h", description="Bars of the regression and correlation.")
    window_bars: int = Field(168, ge=3, le=10_000, description="Returns in the rolling window.")
    min_observations: int = Field(
        30, ge=3, le=10_000, description="Fewer aligned returns than this: no estimate."
    )
    funding_rates: dict[str, Decimal] = Field(
        default_factory=dict,
        description='Funding rate per interval by perpetual (JSON: {"BTC-PERP": "0.0001"}).',
    )
    funding_interval_hours: int = Field(8, ge=1, le=24 * 7, description="Funding interval.")
    commentary_agent: str | None = Field(
        None, description="Name of a registered agent that writes the analysis commentary."
    )
    commentary_timeout_seconds: float = Field(5.0, gt=0, le=60)
