"""Settings of the metrics plugin (environment prefix ``QUARKBOT_METRICS_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class MetricsSettings(BaseSettings):
    """History retention, the Prometheus scrape credential and the sampling limits."""

    model_config = SettingsConfigDict(env_prefix="QUARKBOT_METRICS_", extra="ignore")

    raw_retention_days: int = Field(
        7, ge=1, le=90, description="Keep the 1-minute points this many days."
    )
    rollup_retention_days: int = Field(
        365, ge=1, le=3650, description="Keep the hourly roll-ups this many days."
    )
    scrape_token: SecretStr | None = Field(
        None,
        description="Bearer token that may read GET /metrics and nothing else (for Prometheus; "
        "at least 24 characters). Admins may read it with their own credentials too.",
    )
    directory: Path | None = Field(
        None,
        description="prometheus-client multiprocess directory; default <data dir>/prometheus.",
    )
    sample_timeout_seconds: float = Field(
        5.0, gt=0, le=60, description="Time allowed to one metric's sampler."
    )
    sample_cache_seconds: float = Field(
        5.0, ge=0, le=300, description="A process reuses its samples for this long (scrapes)."
    )
    max_points: int = Field(
        10_000, ge=10, le=1_000_000, description="Most buckets one history query may return."
    )

    @field_validator("scrape_token")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 24:
            raise ValueError("the scrape token must have at least 24 characters")
        return value
