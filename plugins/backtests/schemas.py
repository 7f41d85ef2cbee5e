"""Request and response models of the backtests routes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from quarkbot.pagination import PageQuery
from quarkbot.types import Id, JsonInt, Money, Timeframe, UtcDatetime, one_of_fields

from .metrics import MetricName

SortKey = Literal[MetricName, "total_trades", "combination"]
Status = Literal["queued", "running", "complete", "failed", "canceled"]
# the symbol rule of these routes (its 422 messages are part of their API)
Symbol = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Z0-9][A-Z0-9._:-]*$")]


class BacktestOptions(BaseModel):
    # the body of POST /strategies/{id}/backtest: everything but the strategy
    model_config = ConfigDict(extra="forbid")

    symbols: list[Symbol] | None = Field(None, min_length=1)
    timeframe: Timeframe | None = None
    start: UtcDatetime
    end: UtcDatetime
    initial_capital: Decimal = Field(
        Decimal("10000"), gt=0, max_digits=30, decimal_places=12, le=Decimal("1e15")
    )
    fees: float = Field(0.0, ge=0, lt=1, description="A fraction: 0.001 = 0.1 %")
    slippage: float = Field(0.0, ge=0, lt=1, description="A fraction: 0.0005 = 0.05 %")
    params: dict[str, Any] | None = None
    param_grid: dict[str, Any] | None = Field(
        None, description="Each parameter a list of values or {start, stop, step} (inclusive)"
    )
    rank_by: MetricName = "sharpe_ratio"
    chunk_size: JsonInt | None = Field(None, ge=1, le=1_000_000)


class BacktestIn(BacktestOptions):
    # merged with BacktestOptions' config (extra="forbid")
    model_config = ConfigDict(
        json_schema_extra=one_of_fields("strategy_type", "strategy_id", "agent")
    )

    strategy_type: str | None = Field(None, min_length=1, max_length=64)
    strategy_id: Id | None = None
    agent: dict[str, Any] | None = Field(
        None, description="An agent backtest: {type, parameters} or {instance_id}"
    )

    @model_validator(mode="after")
    def _one_strategy(self) -> BacktestIn:
        given = [x for x in (self.strategy_type, self.strategy_id, self.agent) if x is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of strategy_type, strategy_id and agent")
        return self


class Queued(BaseModel):
    id: int
    job_id: str
    job_ids: list[str]
    status: str
    combinations: int
    chunks: int
    channel: str

    @classmethod
    def of(cls, backtest: Any, channel: str) -> Queued:
        return cls(
            id=backtest.id,
            job_id=backtest.job_ids[0],
            job_ids=backtest.job_ids,
            status=backtest.status,
            combinations=backtest.combinations,
            chunks=backtest.chunks,
            channel=channel,
        )


class BacktestSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    strategy_type: str
    strategy_id: int | None
    strategy_name: str | None
    symbols: list[str]
    timeframe: str
    start: datetime
    end: datetime
    initial_capital: Money
    final_value: Money | None
    total_return_pct: float | None
    total_trades: int | None
    combinations: int
    params: dict[str, Any] = Field(
        default_factory=dict, description="The base parameters (an agent backtest's `backend`)."
    )
    status: Status
    created_by: str
    created_at: datetime
    finished_at: datetime | None


class Progress(BaseModel):
    done: int
    total: int
    percent: float
    chunks_done: int
    chunks: int
    workers: list[str]


class BacktestDetail(BacktestSummary):
    fees: float
    slippage: float
    param_grid: dict[str, Any] | None
    rank_by: str
    chunk_size: int
    job_ids: list[str]
    started_at: datetime | None
    progress: Progress
    metrics: dict[str, Any] | None
    best_params: dict[str, Any] | None
    best_index: int | None
    equity: list[dict[str, Any]] | None
    trades: list[dict[str, Any]] | None
    error: str | None
    sections: dict[str, Any] | None = Field(
        None, description="Sections other plugins add when complete (the regime's by_regime)."
    )


class BacktestPage(BaseModel):
    items: list[BacktestSummary]
    total: int
    limit: int
    offset: int


class BacktestQuery(PageQuery):
    status: Status | None = None
    strategy_id: Id | None = None


class DetailQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    equity_points: int | None = Field(
        None, ge=2, le=1_000_000, description="Downsample the equity curve (first, last kept)"
    )
    include_equity: bool = True
    include_trades: bool = True


class CombinationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    combination: int
    symbol: str
    params: dict[str, Any]
    total_return_pct: float | None
    cagr: float | None
    sharpe_ratio: float | None
    sortino_ratio: float | None
    calmar_ratio: float | None
    max_drawdown_pct: float | None
    win_rate: float | None
    profit_factor: float | None
    exposure_pct: float | None
    alpha_pct: float | None
    final_value: float | None
    total_trades: int


class CombinationPage(BaseModel):
    items: list[CombinationOut]
    total: int
    limit: int
    offset: int


class CombinationQuery(PageQuery):
    sort: SortKey = "combination"
    order: Literal["asc", "desc"] = "asc"
    symbol: Symbol | None = None


class RankingItem(BaseModel):
    strategy_id: int
    name: str
    type: str
    score: float
    rank: int
    components: dict[str, float | int | None]
    backtest_id: int | None


class RankingPage(BaseModel):
    items: list[RankingItem]
    total: int
    limit: int
    offset: int
    weights: dict[str, float]
