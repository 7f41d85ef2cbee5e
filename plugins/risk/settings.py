"""Settings of the risk plugin (environment prefix ``QUARKBOT_RISK_``); read them with
``quarkbot.plugin_settings.settings_of(RiskSettings)``."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class RiskSettings(BaseSettings):
    """Kill switch cooldown, PDT guard, risk metrics and sizing defaults."""

    model_config = SettingsConfigDict(env_prefix="QUARKBOT_RISK_", extra="ignore")

    kill_switch_cooldown_seconds: int = Field(
        900, ge=0, le=7 * 86400, description="Seconds after an activation before RESUME works."
    )
    pdt_classes: list[str] = Field(
        default_factory=lambda: ["us_equity"],
        description="Instrument classes the pattern-day-trader guard applies to (JSON list).",
    )
    pdt_equity_threshold: Decimal = Field(
        Decimal("25000"), ge=0, description="Equity at or above which day trades are not limited."
    )
    pdt_max_day_trades: int = Field(
        3, ge=0, le=100, description="Day trades allowed in the rolling window below the threshold."
    )
    metrics_window_days: int = Field(
        365, ge=2, le=10_000, description="Daily returns used by the risk metrics."
    )
    metrics_periods_per_year: int = Field(
        365, ge=1, le=100_000, description="Annualisation factor of daily returns (252 for stocks)."
    )
    metrics_max_age_seconds: int = Field(
        300, ge=1, description="Cached risk metrics older than this are refreshed on read."
    )
    alert_denials: bool = Field(True, description="Publish every risk denial on risk:alerts.")
