"""Settings of the trading plugin (env prefix ``QUARKBOT_TRADING_``).

Read them with ``quarkbot.plugin_settings.settings_of(TradingSettings)``: the instance validated
when the process started.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class TradingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QUARKBOT_TRADING_", extra="ignore")

    account: str = "paper"
    base_currency: str = "USD"
    initial_capital: Decimal = Field(Decimal("100000"), ge=0, le=Decimal("1e15"))
    broker: str = "paper"
    broker_timeout_seconds: float = Field(5.0, gt=0, le=60)
    maker_fee_bps: Decimal = Field(Decimal("2"), ge=0, le=1000)
    taker_fee_bps: Decimal = Field(Decimal("5"), ge=0, le=1000)
    slippage_bps: Decimal = Field(Decimal("1"), ge=0, le=1000)
    # orders left UNKNOWN longer than this are settled as never received when the broker
    # does not know them
    reconcile_grace_seconds: float = Field(30.0, ge=0)
