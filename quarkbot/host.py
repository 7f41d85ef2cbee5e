"""The per-app state that the host builds once and routes reach through ``current_host()``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from quart import current_app

from quarkbot.auth import ApiKeyService, Authenticator, TokenService
from quarkbot.contrib import Channel
from quarkbot.manager import PluginManager
from quarkbot.ratelimit import LoginRateLimiter
from quarkbot.settings import Settings


@dataclass
class Host:
    settings: Settings
    manager: PluginManager
    tokens: TokenService
    api_keys: ApiKeyService
    authenticator: Authenticator
    login_limiter: LoginRateLimiter
    tortoise_config: dict[str, Any]
    channels: dict[str, tuple[str, Channel]] = field(default_factory=dict)
    plugin_settings: dict[str, Any] = field(default_factory=dict)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    extras: dict[str, Any] = field(default_factory=dict)


def current_host() -> Host:
    host: Host = current_app.extensions["quarkbot"]
    return host
