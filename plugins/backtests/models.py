# Tables of the backtests plugin (app label "backtests"). No docstrings on models: tortoise copies
# them into SQL comments unescaped.
from __future__ import annotations

from decimal import Decimal
from typing import Any

from tortoise import fields
from tortoise.models import Model

STATUSES = ("queued", "running", "complete", "failed", "canceled")
ACTIVE = ("queued", "running")


class Backtest(Model):
    # one backtest or parameter sweep; the sweep's combinations are rows of BacktestRow
    id = fields.IntField(primary_key=True)
    created_by = fields.CharField(max_length=100, db_index=True)
    strategy_type = fields.CharField(max_length=64)
    strategy_id = fields.IntField(null=True, db_index=True)
    strategy_name = fields.CharField(max_length=200, null=True)
    symbols: list[str] = fields.JSONField(default=list)
    timeframe = fields.CharField(max_length=4)
    start = fields.DatetimeField()
    end = fields.DatetimeField()
    initial_capital: Decimal = fields.DecimalField(max_digits=30, decimal_places=12)
    fees = fields.FloatField(default=0.0)
    slippage = fields.FloatField(default=0.0)
    # the fixed parameters, and the grid ({name: [values]}, expanded; null for one backtest)
    params: dict[str, Any] = fields.JSONField(default=dict)
    param_grid: dict[str, list[Any]] | None = fields.JSONField(null=True)
    rank_by = fields.CharField(max_length=32, default="sharpe_ratio")
    combinations = fields.IntField(default=1)
    chunk_size = fields.IntField(default=2000)
    chunks = fields.IntField(default=1)
    chunks_done = fields.IntField(default=0)
    # queued | running | complete | failed | canceled
    status = fields.CharField(max_length=16, default="queued", db_index=True)
    error = fields.TextField(null=True)
    metrics: dict[str, Any] | None = fields.JSONField(null=True)
    best_params: dict[str, Any] | None = fields.JSONField(null=True)
    best_index = fields.IntField(null=True)
    equity: list[dict[str, Any]] | None = fields.JSONField(null=True)
    trades: list[dict[str, Any]] | None = fields.JSONField(null=True)
    final_value: Decimal | None = fields.DecimalField(max_digits=30, decimal_places=12, null=True)
    total_return_pct = fields.FloatField(null=True)
    total_trades = fields.IntField(null=True)
    job_ids: list[str] = fields.JSONField(default=list)
    created_at = fields.DatetimeField(auto_now_add=True)
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "backtests_backtest"


class BacktestChunk(Model):
    # one chunk job of a backtest: combinations [index * chunk_size, (index + 1) * chunk_size)
    id = fields.IntField(primary_key=True)
    backtest: fields.ForeignKeyRelation[Backtest] = fields.ForeignKeyField(
        "backtests.Backtest", related_name="chunk_records", on_delete=fields.CASCADE
    )
    index = fields.IntField()
    job_id = fields.CharField(max_length=64, null=True)
    # queued | running | complete | failed | canceled
    status = fields.CharField(max_length=16, default="queued")
    worker = fields.CharField(max_length=200, null=True)
    rows = fields.IntField(default=0)
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "backtests_chunk"
        unique_together = (("backtest", "index"),)


class BacktestRow(Model):
    # one combination of a sweep on one symbol, with its metrics (null when not finite)
    id = fields.BigIntField(primary_key=True)
    backtest: fields.ForeignKeyRelation[Backtest] = fields.ForeignKeyField(
        "backtests.Backtest", related_name="rows", on_delete=fields.CASCADE
    )
    combination = fields.IntField()
    symbol = fields.CharField(max_length=32)
    params: dict[str, Any] = fields.JSONField(default=dict)
    total_return_pct = fields.FloatField(null=True)
    cagr = fields.FloatField(null=True)
    sharpe_ratio = fields.FloatField(null=True)
    sortino_ratio = fields.FloatField(null=True)
    calmar_ratio = fields.FloatField(null=True)
    max_drawdown_pct = fields.FloatField(null=True)
    win_rate = fields.FloatField(null=True)
    profit_factor = fields.FloatField(null=True)
    exposure_pct = fields.FloatField(null=True)
    alpha_pct = fields.FloatField(null=True)
    final_value = fields.FloatField(null=True)
    total_trades = fields.IntField(default=0)

    class Meta:
        table = "backtests_row"
        unique_together = (("backtest", "combination", "symbol"),)
        indexes = (("backtest_id", "sharpe_ratio"), ("backtest_id", "total_return_pct"))
