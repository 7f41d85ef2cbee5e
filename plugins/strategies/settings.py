"""Settings of the strategies plugin (environment prefix ``QUARKBOT_STRATEGIES_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class StrategiesSettings(BaseSettings):
    """The live-signal schedule, how old a signal may be, and the ML drift monitor."""

    model_config = SettingsConfigDict(env_prefix="QUARKBOT_STRATEGIES_", extra="ignore")

    signals_second: int = Field(
        5, ge=0, le=59, description="Second of every minute at which evaluate_signals runs."
    )
    signal_max_age_bars: int = Field(
        1,
        ge=1,
        le=1000,
        description="An entry or exit on one of the last N bars becomes a live signal.",
    )
    max_signal_age_bars_to_trade: int = Field(
        2,
        ge=1,
        le=1_000_000,
        description="auto_trade places an order for a signal only while its bar ended at most "
        "N bar periods (of the instance's timeframe) ago; an older (stale) signal is stored and "
        "published but not traded (order_status 'skipped').",
    )
    drift_psi_threshold: float = Field(
        0.2, gt=0, description="A feature whose PSI exceeds this publishes ml:drift:{model}."
    )
    drift_window: int = Field(
        500,
        ge=10,
        le=10_000,
        description="Recent bars whose feature distribution is compared with the training "
        "bars' (PSI). Short windows of these autocorrelated features drift by chance: on a "
        "stationary random walk 50 bars gave PSI 0.7-2.5, 250 bars up to 0.3, 500 bars < 0.2.",
    )
    train_max_bars: int = Field(
        20_000, ge=100, le=1_000_000, description="Most recent bars a training job loads."
    )
