"""Settings of the market_data plugin (environment prefix ``QUARKBOT_MARKET_DATA_``).

Read them with ``quarkbot.plugin_settings.settings_of(MarketDataSettings)``.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class MarketDataSettings(BaseSettings):
    """Defaults of the simulated feed and limits of the HTTP import."""

    model_config = SettingsConfigDict(
        env_prefix="QUARKBOT_MARKET_DATA_", env_file=".env", extra="ignore"
    )

    default_spread_bps: Decimal = Field(
        Decimal("5"), ge=0, le=1000, description="Bid/ask spread of simulated quotes, in bps."
    )
    default_speed: float = Field(
        1.0, gt=0, le=1000, description="Simulated feed steps (bars) per second."
    )
    max_import_rows: int = Field(
        50_000,
        ge=1,
        le=10_000_000,
        description="Most rows one HTTP import may carry; larger files go through the CLI.",
    )
    random_walk_start_price: Decimal = Field(
        Decimal("100"), gt=0, description="First price of a random walk (symbols without bars)."
    )
    random_walk_volatility_bps: Decimal = Field(
        Decimal("20"), ge=0, le=5000, description="Standard deviation of one random-walk step."
    )
    feed_in_worker: bool = Field(
        True, description="Run the feed controller (leader-elected) in every worker process."
    )
    feed_poll_seconds: float = Field(
        0.5, gt=0, le=60, description="How often the feed leader re-reads the desired state."
    )
