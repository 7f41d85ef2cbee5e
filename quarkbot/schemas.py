"""Request and response models of the host's own routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from quarkbot.errors import ValidationItem
from quarkbot.pagination import PageQuery
from quarkbot.types import JsonBool, UtcDatetime
from quarkbot.users import USERNAME_PATTERN

Username = Field(min_length=3, max_length=64, pattern=USERNAME_PATTERN)
Password = Field(min_length=1, max_length=1024)
#: Text that is stored or used in a query: PostgreSQL text cannot hold NUL characters.
NO_NUL = r"^[^\x00]*$"


class WriteModel(BaseModel):
    """Base of every request body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class LoginRequest(WriteModel):
    username: str = Field(min_length=1, max_length=64, pattern=NO_NUL)
    password: str = Password


class TokenForm(BaseModel):
    """OAuth2 password grant (RFC 6749 section 4.3), ``application/x-www-form-urlencoded``.

    Clients are public: a ``client_id`` is accepted and ignored, a client secret is refused.
    """

    grant_type: str = Field("password", max_length=64, json_schema_extra={"enum": ["password"]})
    username: str = Field(min_length=1, max_length=64, pattern=NO_NUL)
    password: str = Password
    scope: str = Field("", max_length=1024)
    client_id: str = Field("", max_length=256)
    client_secret: str = Field("", max_length=1024)


OAuthErrorCode = Literal[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
]


class OAuthErrorBody(BaseModel):
    """An error of the token endpoint (RFC 6749 section 5.2); ``detail`` as in every error."""

    error: OAuthErrorCode
    error_description: str
    detail: str | list[ValidationItem]


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type
    expires_in: int


class UserOut(BaseModel):
    id: int
    username: str
    role: str
    is_active: bool
    created_at: datetime
    updated_at: datetime


class MeOut(UserOut):
    auth_method: Literal["token", "api_key"]


#: What ``users.check_password_strength`` asks; its second rule is no JSON Schema keyword.
STRENGTH_RULE = (
    "At least 12 characters, at least 5 of them different (no schema keyword states the "
    "second rule: a 422 names it), no NUL character."
)


class UserCreate(WriteModel):
    username: str = Username
    password: str = Field(min_length=12, max_length=1024, pattern=NO_NUL, description=STRENGTH_RULE)
    role: Literal["viewer", "trader", "admin"] = "viewer"


class UserUpdate(WriteModel):
    password: str | None = Field(
        None, min_length=12, max_length=1024, pattern=NO_NUL, description=STRENGTH_RULE
    )
    role: Literal["viewer", "trader", "admin"] | None = None
    is_active: JsonBool | None = None


class UserPage(BaseModel):
    items: list[UserOut]
    total: int
    limit: int
    offset: int


class UserQuery(PageQuery):
    role: Literal["viewer", "trader", "admin"] | None = None
    is_active: bool | None = None


class ApiKeyCreate(WriteModel):
    name: str = Field(min_length=1, max_length=100, pattern=NO_NUL)
    role: Literal["viewer", "trader", "admin"] | None = None
    username: str | None = Field(
        None,
        min_length=3,
        max_length=64,
        pattern=NO_NUL,
        description="Admins may create keys for another user.",
    )


class ApiKeyOut(BaseModel):
    id: int
    name: str
    prefix: str
    role: str
    username: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The plaintext key. It is shown once and never stored.")


class ApiKeyPage(BaseModel):
    items: list[ApiKeyOut]
    total: int
    limit: int
    offset: int


class ApiKeyQuery(PageQuery):
    include_revoked: bool = False


class AuditOut(BaseModel):
    seq: int
    ts: datetime
    actor: str
    actor_type: str
    method: str
    path: str
    status: int
    request_id: str
    client_ip: str | None
    action: str | None
    hash: str


class AuditPage(BaseModel):
    items: list[AuditOut]
    total: int
    limit: int
    offset: int


class AuditQuery(PageQuery):
    actor: str | None = Field(None, max_length=100, pattern=NO_NUL)
    method: Literal["POST", "PUT", "PATCH", "DELETE"] | None = None
    path_prefix: str | None = Field(None, max_length=500, pattern=NO_NUL)
    status: int | None = Field(None, ge=100, le=599)
    start: UtcDatetime | None = Field(None, description="Inclusive; without a time zone, UTC.")
    end: UtcDatetime | None = Field(None, description="Exclusive; without a time zone, UTC.")


class ComponentStatus(BaseModel):
    model_config = ConfigDict(extra="allow")
    status: str


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    components: dict[str, dict[str, Any]]


class PluginOut(BaseModel):
    name: str
    version: str
    source: str
    module: str
    hooks: list[str]


class PluginNotLoaded(BaseModel):
    name: str
    reason: str
    extra: str = Field(description="The setup.cfg extra that installs what it needs")


class PluginList(BaseModel):
    items: list[PluginOut]
    total: int
    not_loaded: list[PluginNotLoaded] = Field(
        default_factory=list,
        description="Built-in plugins left out because an optional dependency is missing",
    )


class StatusOut(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    started_at: datetime
    uptime_seconds: float
    database: str
    plugins: int
    components: dict[str, dict[str, Any]]


class MessageOut(BaseModel):
    detail: str
