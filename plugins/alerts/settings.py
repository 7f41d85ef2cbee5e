"""Settings of the alerts plugin (environment prefix ``QUARKBOT_ALERTS_``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class AlertsSettings(BaseSettings):
    """The webhook guard's allowlist, delivery limits and the worker watchdog."""

    model_config = SettingsConfigDict(env_prefix="QUARKBOT_ALERTS_", extra="ignore")

    webhook_allowlist: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Addresses (CIDR, e.g. 10.0.0.0/8 or 127.0.0.1/32) that webhooks may reach "
        "although they are loopback, private or link-local (comma-separated). Empty: none.",
    )
    webhook_timeout_seconds: float = Field(5.0, gt=0, le=60)
    delivery_max_tries: int = Field(6, ge=1, le=20, description="Attempts per notification.")
    delivery_backoff_seconds: float = Field(
        2.0, gt=0, le=600, description="First retry delay; doubles on each attempt."
    )
    worker_down_after_seconds: float = Field(
        30.0, ge=5, le=3600, description="A web process raises 'worker down' after this long."
    )

    @field_validator("webhook_allowlist", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("webhook_allowlist")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        for item in value:
            ipaddress.ip_network(item, strict=False)  # ValueError: a bad entry stops start-up
        return value
