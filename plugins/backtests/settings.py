"""Settings of the backtests plugin (environment prefix ``QUARKBOT_BACKTESTS_``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_RANKING_WEIGHTS = {
    "sharpe_ratio": 0.4,
    "total_return_pct": 0.2,
    "max_drawdown_pct": 0.2,
    "win_rate": 0.1,
    "live_signals": 0.1,
}


class BacktestsSettings(BaseSettings):
    """Limits of backtest requests, the chunking of sweeps and the ranking weights."""

    model_config = SettingsConfigDict(env_prefix="QUARKBOT_BACKTESTS_", extra="ignore")

    max_combinations: int = Field(
        100_000, ge=1, description="Grid points (the full cartesian product) per request."
    )
    max_days: int = Field(36_600, ge=1, description="Longest date range (end - start) in days.")
    max_symbols: int = Field(10, ge=1, le=1000, description="Symbols per request.")
    max_concurrent_per_user: int = Field(
        5, ge=1, description="Queued or running backtests per user (429 beyond)."
    )
    max_bars: int = Field(1_000_000, ge=10, description="Bars loaded per symbol.")
    chunk_size: int = Field(
        2000,
        ge=1,
        le=1_000_000,
        description="Combinations per chunk job: the default and the most a request may ask for.",
    )
    max_chunk_cells: int = Field(
        5_000_000,
        ge=1,
        description=(
            "Combinations x bars per symbol in one chunk (about 80 bytes each in vectorbt: "
            "5 million is about 400 MB); the default chunk size shrinks to fit, a larger "
            "requested chunk_size is refused."
        ),
    )
    reap_grace_seconds: int = Field(
        120,
        ge=0,
        description="How long past the job timeout (+ 10 s lease) a stuck chunk job may stay.",
    )
    stale_queued_seconds: int = Field(
        86_400,
        ge=60,
        description="A chunk job queued (or aborted and not re-run) for longer fails its backtest.",
    )
    warm_up: bool = Field(
        True,
        description="Compile and load numba's code when a worker starts, before its first job "
        "(about 10 s); off for workers that never run backtests (the first chunk pays it).",
    )
    chunk_delay_seconds: float = Field(
        0.0, ge=0, le=3600, description="Testing aid: a pause before a chunk stores its rows."
    )
    ranking_weights: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_RANKING_WEIGHTS),
        description="Weights of the strategy rankings' components (JSON object).",
    )

    @field_validator("ranking_weights")
    @classmethod
    def _known_finite_weights(cls, value: dict[str, Any]) -> dict[str, float]:
        """A bad weight stops start-up instead of failing every rankings request."""
        from quarkbot_plugins.backtests.rankings import check_weights

        return check_weights(value)
