"""Settings of the regime plugin (environment prefix ``QUARKBOT_REGIME_``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from quarkbot_plugins.regime.core import LabelRules, RuleConfig


class RegimeSettings(BaseSettings):
    """The model, the walk-forward refits, the rule classifier and what the jobs watch."""

    model_config = SettingsConfigDict(env_prefix="QUARKBOT_REGIME_", extra="ignore")

    model: str = Field(
        "markov",
        min_length=1,
        max_length=32,
        description="markov: Markov-switching fits (rules until one exists); rules; or the name "
        "of a model another plugin registers (register_regime_models; rules until it is fitted).",
    )
    k_regimes: int = Field(2, ge=2, le=4, description="States of the Markov-switching model.")
    window: Literal["expanding", "rolling"] = Field(
        "expanding", description="Walk-forward refits on all bars so far, or the last fit_bars."
    )
    fit_bars: int = Field(2000, ge=100, le=20_000, description="Bars of a fit (the cap).")
    min_fit_bars: int = Field(250, ge=50, le=20_000, description="Fewer bars: no fit.")
    refit_every_bars: int = Field(
        63, ge=1, le=10_000, description="Walk-forward backfill: bars between refits."
    )
    watch: list[str] = Field(
        default_factory=list,
        description='Pairs the crons fit and evaluate, as "SYMBOL:timeframe" (JSON list).',
    )
    trading_days: int = Field(252, ge=1, le=366, description="Days a year (annualization).")
    analyze_direct_max_bars: int = Field(
        1000, ge=10, le=100_000, description="analyze answers at once up to this many bars."
    )
    max_bars: int = Field(20_000, ge=100, le=100_000, description="Bars read at most.")
    high_vol_ratio: float = Field(1.5, gt=1, le=10)
    sharpe_threshold: float = Field(0.5, gt=0, le=10)
    rule_window: int = Field(20, ge=2, le=1000)
    rule_trend_window: int = Field(50, ge=2, le=1000)
    rule_percentile_window: int = Field(1000, ge=10, le=100_000)
    rule_high_vol_percentile: float = Field(0.8, gt=0, le=1)
    rule_trend_threshold: float = Field(0.25, gt=0, lt=1)
    limits_max_age_bars: int = Field(
        3, ge=1, le=1000, description="The risk overlay ignores readings older than this."
    )

    def rules(self) -> RuleConfig:
        return RuleConfig(
            self.rule_window,
            self.rule_trend_window,
            self.rule_percentile_window,
            self.rule_high_vol_percentile,
            self.rule_trend_threshold,
        )

    def label_rules(self) -> LabelRules:
        return LabelRules(self.high_vol_ratio, self.sharpe_threshold)
