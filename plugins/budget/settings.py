"""Settings of the budget plugin (environment prefix ``QUARKBOT_BUDGET_``).

Read them with ``quarkbot.plugin_settings.settings_of(BudgetSettings)``.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class BudgetSettings(BaseSettings):
    """Whether unbudgeted orders pass, and the currencies a budget may be kept in."""

    model_config = SettingsConfigDict(env_prefix="QUARKBOT_BUDGET_", extra="ignore")

    allow_without_budget: bool = Field(
        True,
        description="Let orders pass that have no strategy_id, or whose strategy has no budget "
        "in the order's currency (false: deny them NO_BUDGET).",
    )
    currencies: list[str] = Field(
        default_factory=lambda: ["USD", "USDT", "USDC", "EUR", "GBP", "JPY", "BTC", "ETH"],
        description="Currencies a budget may be kept in (JSON list); the trading base currency "
        "is always allowed.",
    )
