"""Settings of the compat plugin (environment prefix ``QUARKBOT_COMPAT_``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

#: The seed systems quarkbot can stand in for, one profile each.
PROFILES = ("alpha_oracle", "alphapulse", "llm_btc", "nautilus", "tradingagents")


class CompatSettings(BaseSettings):
    """Which seed profiles are mounted. None by default: their unversioned paths and old
    shapes are a deliberate, visible choice of an operator who migrates (docs/migrating.md)."""

    model_config = SettingsConfigDict(env_prefix="QUARKBOT_COMPAT_", extra="ignore")

    profiles: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="Comma-separated profiles to mount (" + ", ".join(PROFILES) + "), "
        "`all`, or empty (none, the default).",
    )

    @field_validator("profiles", mode="before")
    @classmethod
    def _parse(cls, value: object) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        names: tuple[str, ...] = tuple(value or ())  # type: ignore[arg-type]
        if names == ("all",):
            return PROFILES
        unknown = sorted(set(names) - set(PROFILES))
        if unknown:
            raise ValueError(f"unknown compat profile(s) {unknown}; known: {', '.join(PROFILES)}")
        return names
