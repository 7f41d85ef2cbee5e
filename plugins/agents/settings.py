"""Settings of the agents plugin (environment prefix ``QUARKBOT_AGENTS_``)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AgentsSettings(BaseSettings):
    """LLM limits and prices, the SSRF allowlist, knowledge cutoffs, backtest limits."""

    model_config = SettingsConfigDict(env_prefix="QUARKBOT_AGENTS_", extra="ignore")

    allowlist: list[str] = Field(
        default_factory=list,
        description="Hosts or CIDRs a provider base_url may reach although they are loopback, "
        'private or link-local (JSON: ["127.0.0.1/32", "ollama.lan"]). Metadata addresses '
        "need an exact entry.",
    )
    timeout_seconds: float = Field(20.0, gt=0, le=600, description="Per LLM call.")
    max_tokens: int = Field(400, ge=16, le=32_000, description="Completion tokens per call.")
    temperature: float = Field(0.0, ge=0, le=2)
    concurrency: int = Field(4, ge=1, le=256, description="LLM calls at once per process.")
    price_per_1k_tokens: dict[str, Decimal] = Field(
        default_factory=dict,
        description='Cost per 1,000 tokens (prompt and completion) by model (JSON: {"gpt-4o": '
        '"0.005"}); a model not listed costs 0.',
    )
    knowledge_cutoffs: dict[str, date] = Field(
        default_factory=dict,
        description='Knowledge cutoff by model (JSON: {"llama3": "2023-12-01"}); an agent '
        "backtest that ends before it is flagged in its summary.",
    )
    max_llm_calls_per_backtest: int = Field(2_000, ge=1, le=1_000_000)
    max_cost_per_backtest: Decimal = Field(Decimal(5), ge=0)
    history_bars: int = Field(200, ge=10, le=5_000, description="Bars an agent context loads.")
