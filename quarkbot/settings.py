"""Settings from the environment (prefix ``QUARKBOT_``, nested with ``__``) and ``.env``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("["):
            import json

            return json.loads(stripped)
        return [part.strip() for part in stripped.split(",") if part.strip()]
    return value


CsvList = Annotated[list[str], NoDecode]


class JWTSettings(BaseModel):
    """Bearer tokens. Without a secret, the embedded default keeps a random one in the data dir."""

    secret: SecretStr | None = None
    algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    issuer: str = "quarkbot"
    audience: str = "quarkbot-api"
    ttl_seconds: int = Field(3600, ge=60, le=7 * 24 * 3600)
    leeway_seconds: int = Field(10, ge=0, le=120)


class RateLimitSettings(BaseModel):
    """Login throttling, per username and per client address (``limits`` notation)."""

    login_per_username: str = "5/minute"
    login_per_address: str = "20/minute"


class EventSettings(BaseModel):
    """The event bus: one capped Redis stream per channel keeps events for resume."""

    stream_maxlen: int = Field(10_000, ge=10, le=10_000_000)


class WebSocketSettings(BaseModel):
    auth_timeout_seconds: float = Field(5.0, gt=0, le=60)
    queue_size: int = Field(1000, ge=1, le=100_000)
    ping_interval_seconds: float = Field(20.0, gt=0, le=300)
    max_subscriptions: int = Field(100, ge=1, le=10_000)


class JobSettings(BaseModel):
    """arq worker tuning. arq polls Redis; a short poll delay makes jobs start quickly."""

    poll_delay_seconds: float = Field(0.02, gt=0, le=5)
    timeout_seconds: int = Field(300, ge=1, le=86_400)
    max_jobs: int = Field(10, ge=1, le=1000)
    max_tries: int = Field(5, ge=1, le=100)
    keep_result_seconds: int = Field(3600, ge=0)
    #: finished runs of cron jobs are deleted this long after they end (``job_retention``)
    cron_runs_keep_days: float = Field(7.0, gt=0, le=3650)


class Settings(BaseSettings):
    """Every setting of the host. Plugins bring their own through ``register_settings``."""

    model_config = SettingsConfigDict(
        env_prefix="QUARKBOT_",
        env_file=".env",
        env_nested_delimiter="__",
        extra="ignore",
    )

    data_dir: Path = Path("var")
    database_url: str | None = None
    auto_migrate: bool | None = Field(
        None, description="Apply migrations at start-up; default: only for the embedded SQLite."
    )
    redis_url: str | None = None
    redis_prefix: str = Field("quarkbot", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    redis_timeout_seconds: float = Field(1.0, gt=0, le=30)
    events: EventSettings = EventSettings()
    websocket: WebSocketSettings = WebSocketSettings()
    jobs: JobSettings = JobSettings()

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    allow_public_bind: bool = False
    trusted_proxies: int = Field(
        0, ge=0, le=10, description="How many proxies in front set X-Forwarded-For."
    )

    jwt: JWTSettings = JWTSettings()
    api_key_secret: SecretStr | None = None
    rate_limit: RateLimitSettings = RateLimitSettings()

    cors_origins: CsvList = []
    cors_allow_credentials: bool = False
    docs_enabled: bool = True
    max_body_bytes: int = Field(1024 * 1024, ge=1024)

    disabled_plugins: CsvList = []
    plugin_modules: CsvList = Field(
        [],
        description="Importable modules loaded as plugins after the built-ins and entry points "
        "(a plugin not packaged as a distribution, e.g. a test's).",
    )
    bootstrap_admin: bool = True

    _split_lists = field_validator(
        "cors_origins", "disabled_plugins", "plugin_modules", mode="before"
    )(_split_csv)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite://{(self.data_dir / 'quarkbot.sqlite3').resolve()}"

    @property
    def uses_embedded_database(self) -> bool:
        return not self.database_url

    @property
    def should_auto_migrate(self) -> bool:
        if self.auto_migrate is None:
            return self.uses_embedded_database
        return self.auto_migrate
