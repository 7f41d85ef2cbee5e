"""The shared vocabulary plugins build on: domain errors mapped once, types, filters, settings."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

import pytest
from pydantic import BaseModel, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from quart import Blueprint

from quarkbot import hookimpl
from quarkbot.auth import requires
from quarkbot.errors import Conflict, Forbidden, Invalid, LimitExceeded, NotFound, Unavailable
from quarkbot.models import User
from quarkbot.pagination import Lookup, PageQuery, filtered, get_or_404
from quarkbot.plugin_settings import install, settings_of
from quarkbot.types import (
    TIMEFRAME_SECONDS,
    TIMEFRAMES,
    Money,
    StrategyId,
    UtcDatetime,
    format_decimal,
)

errors_bp = Blueprint("vocab_errors", __name__, url_prefix="/vocab")
RAISED = {
    "not-found": NotFound("No such thing"),
    "forbidden": Forbidden("Not yours"),
    "conflict": Conflict("Already done", code="ALREADY_DONE", thing_id=7),
    "invalid": Invalid.at(["body", "quantity"], "must be positive"),
    "limit": LimitExceeded("Slow down", code="TOO_MANY", retry_after=2.5),
    "unavailable": Unavailable("Broker down", retry_after=5),
}


@errors_bp.get("/<kind>")
@requires("viewer")
async def raise_kind(kind: str) -> dict[str, str]:
    raise RAISED[kind]


class VocabPlugin:
    @hookimpl
    def register_blueprints(self, app):  # type: ignore[no-untyped-def]
        return [errors_bp]


@pytest.fixture
def quarkbot_plugins() -> list[tuple[str, object]]:
    return [("vocab", VocabPlugin())]


@pytest.mark.parametrize(
    ("kind", "status", "body", "retry_after"),
    [
        ("not-found", 404, {"detail": "No such thing"}, None),
        ("forbidden", 403, {"detail": "Not yours"}, None),
        ("conflict", 409, {"detail": "Already done", "code": "ALREADY_DONE", "thing_id": 7}, None),
        (
            "invalid",
            422,
            {
                "detail": [
                    {"loc": ["body", "quantity"], "msg": "must be positive", "type": "value_error"}
                ]
            },
            None,
        ),
        ("limit", 429, {"detail": "Slow down", "code": "TOO_MANY"}, "3"),
        ("unavailable", 503, {"detail": "Broker down"}, "5"),
    ],
)
async def test_domain_errors_map_to_http_once(
    client, auth_headers, kind, status, body, retry_after
):
    headers = await auth_headers("viewer")
    response = await client.get(f"/vocab/{kind}", headers=headers)
    assert response.status_code == status
    assert await response.get_json() == body
    assert response.headers.get("Retry-After") == retry_after


def test_decimal_and_time_types() -> None:
    class Out(BaseModel):
        value: Money
        at: UtcDatetime

    out = Out(value=Decimal("100.340000000000"), at=datetime(2024, 1, 2))
    assert out.model_dump(mode="json") == {"value": "100.34", "at": "2024-01-02T00:00:00Z"}
    assert format_decimal(Decimal("0E-12")) == "0"
    assert format_decimal(Decimal("1E-7")) == "0.0000001"
    assert out.at.tzinfo is UTC
    assert set(TIMEFRAME_SECONDS) == set(TIMEFRAMES)


def test_a_strategy_id_is_one_type_whether_sent_as_integer_or_text() -> None:
    class Ref(BaseModel):
        strategy_id: StrategyId

    assert Ref(strategy_id=12).strategy_id == "12"
    assert Ref(strategy_id="hedging").strategy_id == "hedging"
    with pytest.raises(ValidationError):
        Ref(strategy_id="has space")
    with pytest.raises(ValidationError):
        Ref(strategy_id=True)


async def test_declarative_filters_and_get_or_404(app) -> None:
    class UserQuery(PageQuery):
        role: str | None = None
        name_like: Annotated[str | None, Lookup("username__icontains")] = None

    await User.create(username="alice", password_hash="x", role="trader")
    await User.create(username="bob", password_hash="x", role="viewer")
    await User.create(username="alfred", password_hash="x", role="viewer")
    query = UserQuery(role="viewer", name_like="AL", limit=5)
    names = [u.username for u in await filtered(User.all(), query)]
    assert names == ["alfred"]
    assert (await get_or_404(User, username="bob")).role == "viewer"
    with pytest.raises(NotFound):
        await get_or_404(User.filter(role="admin"), username="bob")


def test_settings_of_returns_the_instance_validated_at_start_up(monkeypatch) -> None:
    class DemoSettings(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="QUARKBOT_VOCABDEMO_")
        size: int = 1

    monkeypatch.setenv("QUARKBOT_VOCABDEMO_SIZE", "2")
    assert settings_of(DemoSettings).size == 2  # nothing installed: read afresh
    install([DemoSettings()])
    monkeypatch.setenv("QUARKBOT_VOCABDEMO_SIZE", "3")
    assert settings_of(DemoSettings).size == 2  # the validated instance wins
    install([])
