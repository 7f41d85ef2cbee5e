"""The built-in strategy types: parameter models and ``BUILTIN_TYPES``.

Imported by the web process: pydantic only (no numpy). The signal functions live in
``quarkbot_plugins.strategies.signal_fns`` and are loaded in the worker
(``StrategyType.load``). Field bounds (``ge``, ``le``, ``gt``, ``lt``) are the ranges a sweep may
take. Reference: ``docs/strategies.md`` ("Built-in types").
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from quarkbot_plugins.strategies.types import StrategyType

SIGNALS = "quarkbot_plugins.strategies.signal_fns"


class SmaCrossoverParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fast: int = Field(10, ge=2, le=500, description="Fast simple moving average window (bars)")
    slow: int = Field(30, ge=3, le=1000, description="Slow simple moving average window (bars)")

    @model_validator(mode="after")
    def _fast_below_slow(self) -> Self:
        if self.fast >= self.slow:
            raise ValueError("fast must be smaller than slow")
        return self


class RsiMeanReversionParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: int = Field(14, ge=2, le=200, description="RSI window (bars, simple means)")
    lower: float = Field(30.0, ge=1, le=50, description="Entry when the RSI crosses below it")
    upper: float = Field(70.0, ge=50, le=99, description="Exit when the RSI crosses above it")


class MomentumParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rsi_period: int = Field(14, ge=2, le=100, description="RSI window (bars)")
    sma_window: int = Field(50, ge=2, le=500, description="Trend SMA window (bars)")
    rsi_entry: float = Field(55.0, ge=40, le=90, description="Entry when the RSI crosses above it")
    rsi_exit: float = Field(45.0, ge=10, le=60, description="Exit when the RSI is below it")
    min_hold_days: int = Field(
        5, ge=0, le=365, description="No exit earlier than this many days after the entry"
    )


class BollingerBreakoutParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    window: int = Field(20, ge=2, le=500, description="Band window (bars)")
    std: float = Field(2.0, gt=0, le=5, description="Band width in standard deviations")


class MlClassifierParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    horizon: int = Field(5, ge=1, le=60, description="Label: the return over the next N bars")
    threshold_pct: float = Field(
        1.0, gt=0, le=20, description="Label: up/down beyond +-this percentage, else flat"
    )
    train_fraction: float = Field(
        0.6, ge=0.2, le=0.9, description="Leading share of the bars used for training"
    )
    min_confidence: float = Field(
        50.0, ge=0, le=100, description="Entry/exit when P(up)/P(down) reaches this percentage"
    )


BUILTIN_TYPES: list[StrategyType] = [
    StrategyType(
        name="sma_crossover",
        description=(
            "Long when the fast simple moving average crosses above the slow one; "
            "flat when it crosses below."
        ),
        params=SmaCrossoverParams,
        signals=f"{SIGNALS}:sma_crossover",
        timeframe="1d",
        lookback=1010,
    ),
    StrategyType(
        name="rsi_mean_reversion",
        description=(
            "Long when the RSI crosses below the lower level (oversold); "
            "flat when it crosses above the upper level."
        ),
        params=RsiMeanReversionParams,
        signals=f"{SIGNALS}:rsi_mean_reversion",
        timeframe="1d",
        lookback=210,
    ),
    StrategyType(
        name="momentum",
        description=(
            "Long when the close is above its SMA and the RSI crosses above the entry level; "
            "flat when the RSI falls below the exit level or the close below the SMA, "
            "never earlier than min_hold_days after the entry."
        ),
        params=MomentumParams,
        signals=f"{SIGNALS}:momentum",
        timeframe="1d",
        lookback=510,
        min_hold_days=5,
    ),
    StrategyType(
        name="bollinger_breakout",
        description=(
            "Long when the close crosses above the upper Bollinger band; "
            "flat when it crosses below the middle band."
        ),
        params=BollingerBreakoutParams,
        signals=f"{SIGNALS}:bollinger_breakout",
        timeframe="1d",
        lookback=510,
    ),
    StrategyType(
        name="ml_classifier",
        description=(
            "A gradient-boosting classifier (down/flat/up over the next horizon bars) on "
            "returns, volatility, RSI and the distance from the SMA; long when P(up) reaches "
            "min_confidence, flat when P(down) does."
        ),
        params=MlClassifierParams,
        signals=f"{SIGNALS}:ml_classifier",
        timeframe="1d",
        lookback=500,
    ),
]
