"""The regime plugin's records: fits (model versions), readings, transitions, the parameters
per regime and the regimes each strategy instance may trade in."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model


class RegimeFit(Model):
    # one fitted model version of a (symbol, timeframe); a rerun of a fit through the same bar
    # finds it (unique fitted_through)
    id = fields.IntField(primary_key=True)
    symbol = fields.CharField(max_length=32)
    timeframe = fields.CharField(max_length=8)
    model = fields.CharField(max_length=32)
    version = fields.IntField()
    k_regimes = fields.IntField()
    # MarkovParams as JSON, plus the state labels
    params: dict[str, Any] = fields.JSONField(default=dict)
    labels: list[str] = fields.JSONField(default=list)
    data_start = fields.DatetimeField()  # the first bar of the fit (the filter starts there)
    fitted_through = fields.DatetimeField()  # its last bar
    n_obs = fields.IntField()
    loglike = fields.FloatField(null=True)
    converged = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "regime_fit"
        unique_together = (
            ("symbol", "timeframe", "model", "fitted_through"),
            ("symbol", "timeframe", "version"),
        )


class RegimeReading(Model):
    # the regime at one bar (unique per symbol, timeframe, bar time): a rerun stores nothing
    id = fields.IntField(primary_key=True)
    symbol = fields.CharField(max_length=32)
    timeframe = fields.CharField(max_length=8)
    ts = fields.DatetimeField()
    regime = fields.CharField(max_length=16)
    confidence = fields.FloatField()
    probabilities: dict[str, float] = fields.JSONField(default=dict)
    features: dict[str, Any] = fields.JSONField(default=dict)
    model = fields.CharField(max_length=32)
    model_version = fields.CharField(max_length=64)
    fitted_through = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "regime_reading"
        unique_together = (("symbol", "timeframe", "ts"),)


class RegimeTransition(Model):
    # a change of regime at one bar; published once on regime:changes (published_at claims it)
    id = fields.IntField(primary_key=True)
    symbol = fields.CharField(max_length=32)
    timeframe = fields.CharField(max_length=8)
    ts = fields.DatetimeField()
    from_regime = fields.CharField(max_length=16, null=True)
    to_regime = fields.CharField(max_length=16)
    confidence = fields.FloatField()
    model_version = fields.CharField(max_length=64)
    published_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "regime_transition"
        unique_together = (("symbol", "timeframe", "ts"),)


class RegimeParameter(Model):
    # what each regime allows (set by admins)
    regime = fields.CharField(max_length=16, primary_key=True)
    volatility_threshold = fields.FloatField()
    leverage_multiplier = fields.FloatField()
    position_limit = fields.FloatField()
    updated_by = fields.CharField(max_length=100, default="")
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "regime_parameter"


class StrategyRegimes(Model):
    # the regimes a strategy instance's signals may trade in (no row: every regime)
    strategy_id = fields.IntField(primary_key=True)
    allowed_regimes: list[str] = fields.JSONField(default=list)
    updated_by = fields.CharField(max_length=100, default="")
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "regime_strategy"
