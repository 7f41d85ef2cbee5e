"""Request and response models of the regime routes (shapes of the AlphaPulse documentation,
with the reading's provenance added)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from quarkbot.types import DatetimeOut, JsonBool, Symbol, Timeframe, UtcDatetime

Regime = Literal["BULL", "BEAR", "SIDEWAYS", "HIGH_VOL"]


class PairQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    symbol: Symbol | None = None
    timeframe: Timeframe | None = None


class HistoryQuery(PairQuery):
    hours: float | None = Field(None, gt=0, le=24 * 366 * 20)
    start: UtcDatetime | None = None
    end: UtcDatetime | None = None

    @model_validator(mode="after")
    def _one_window(self) -> HistoryQuery:
        if self.hours is not None and self.start is not None:
            raise ValueError("give hours or start/end, not both")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class MarketData(BaseModel):
    model_config = ConfigDict(extra="forbid")

    symbol: Symbol
    timeframe: Timeframe = "1h"
    lookback_hours: float = Field(24, gt=0, le=24 * 366 * 50)


class AnalyzeIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"market_data": {"symbol": "BTC", "timeframe": "1h", "lookback_hours": 24}}
            ]
        },
    )

    market_data: MarketData


Ratio = Annotated[float, Field(allow_inf_nan=False)]


class Parameters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    volatility_threshold: Ratio = Field(
        ..., gt=0, le=10, description="Annualized volatility above which exposure may not grow."
    )
    leverage_multiplier: Ratio = Field(
        ..., gt=0, le=10, description="Multiplies risk's max_leverage in this regime."
    )
    position_limit: Ratio = Field(
        ..., gt=0, le=10, description="A position's notional / equity, at most."
    )


class ParametersIn(BaseModel):
    """Parameters of the regimes given; the others keep theirs."""

    model_config = ConfigDict(extra="forbid")

    BULL: Parameters | None = None
    BEAR: Parameters | None = None
    SIDEWAYS: Parameters | None = None
    HIGH_VOL: Parameters | None = None


class ParametersOut(BaseModel):
    BULL: Parameters
    BEAR: Parameters
    SIDEWAYS: Parameters
    HIGH_VOL: Parameters


class Features(BaseModel):
    volatility: float | None = None
    trend_strength: float | None = None
    volume_ratio: float | None = None
    volatility_percentile: float | None = None


class ReadingOut(BaseModel):
    symbol: str
    timeframe: str
    regime: Regime
    confidence: float
    probabilities: dict[str, float]
    features: Features
    model: str
    model_version: str
    fitted_through: DatetimeOut | None
    timestamp: DatetimeOut


class CurrentOut(ReadingOut):
    parameters: Parameters


class AnalyzeOut(ReadingOut):
    bars: int


class Queued(BaseModel):
    job_id: str
    status: str = "queued"
    bars: int
    detail: str = "Read GET /api/v1/jobs/{job_id} for the result"


class Segment(BaseModel):
    regime: Regime
    confidence: float
    start_time: DatetimeOut
    end_time: DatetimeOut | None
    model_version: str


class HistoryOut(BaseModel):
    symbol: str
    timeframe: str
    regimes: list[Segment]


class ModelOut(BaseModel):
    name: str
    kind: str
    description: str


class FitOut(BaseModel):
    symbol: str
    timeframe: str
    model_version: str
    k_regimes: int
    labels: list[str]
    data_start: DatetimeOut
    fitted_through: DatetimeOut
    n_obs: int
    converged: bool


class ModelsOut(BaseModel):
    active: str
    models: list[ModelOut]
    fits: list[FitOut]


class FitIn(BaseModel):
    """Queue a fit through the latest bar, or a walk-forward backfill of the whole history."""

    model_config = ConfigDict(extra="forbid")

    symbol: Symbol
    timeframe: Timeframe = "1d"
    backfill: JsonBool = False
    every: int | None = Field(None, ge=1, le=10_000, description="Backfill: bars between refits.")


class AllowedRegimesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allowed_regimes: list[Regime] = Field(..., max_length=4)


class AllowedRegimesOut(BaseModel):
    strategy_id: int
    allowed_regimes: list[Regime]


class RegimeMetrics(BaseModel):
    bars: int
    return_pct: float
    sharpe_ratio: float | None
    max_drawdown_pct: float
    trades: int


class BacktestRegimesOut(BaseModel):
    backtest_id: int
    total_trades: int
    regimes: dict[str, RegimeMetrics]
