"""Offline agents through the API: types, analyze, determinism on GOOG, the as_of fence, bad
input, roles and instance CRUD."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel

from quarkbot import hookimpl
from quarkbot_plugins.agents.api import AgentType, Context, LookAhead, Proposal

ANALYZE = "/api/v1/agents/analyze"
DECISIONS = "/api/v1/agents/decisions"
INSTANCES = "/api/v1/agents/instances"


class NoParams(BaseModel):
    pass


async def peek(ctx: Context, params: Any) -> Proposal:
    # reads the bar that opens at as_of: it closes after as_of, so the fence must refuse it
    bar = ctx.bar_at(ctx.as_of)
    return Proposal(symbol=ctx.symbol, action="BUY", confidence=99, reasoning=f"saw {bar.close}")


class Peeker:
    @hookimpl
    def register_agents(self) -> list[AgentType]:
        return [AgentType("peeker", "reads the future", NoParams, peek)]


@pytest.fixture
def quarkbot_plugins() -> list[tuple[str, Any]]:
    return [("peeker", Peeker())]


def day(text: str) -> str:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).isoformat()


async def post(client: Any, path: str, headers: dict[str, str], body: dict[str, Any]) -> Any:
    response = await client.post(path, json=body, headers=headers)
    assert response.status_code in (200, 201), await response.get_data(as_text=True)
    return await response.get_json()


async def test_types_listed(client: Any, viewer: dict[str, str]) -> None:
    response = await client.get("/api/v1/agents", headers=viewer)
    assert response.status_code == 200
    names = {t["name"]: t for t in (await response.get_json())["items"]}
    assert {"technical", "risk_aware", "committee", "llm", "peeker"} <= set(names)
    assert names["llm"]["backend"] == "llm" and names["committee"]["backend"] == "offline"
    assert "fast" in names["technical"]["parameters"]["properties"]


async def test_committee_on_goog_is_deterministic(
    client: Any, import_bars: Any, trader: dict[str, str], viewer: dict[str, str]
) -> None:
    assert await import_bars("GOOG") > 2000
    days = ["2005-03-01", "2007-06-01", "2009-01-05", "2011-10-03", "2013-02-01"]
    runs = []
    for _ in range(2):
        found = []
        for when in days:
            body = {"agent": "committee", "symbol": "GOOG", "as_of": day(when)}
            found.append(await post(client, ANALYZE, trader, body))
        runs.append(found)
    keys = ("action", "confidence", "reasoning", "input_hash", "as_of")
    assert [[d[k] for k in keys] for d in runs[0]] == [[d[k] for k in keys] for d in runs[1]]
    for decision in runs[0]:
        assert decision["agent_type"] == "committee" and decision["backend"] == "offline"
        assert "technical (weight 1)" in decision["reasoning"]
        assert "risk_aware (weight 1)" in decision["reasoning"]
        assert 0 <= decision["confidence"] <= 100 and decision["llm_calls"] == 0
    assert {d["action"] for d in runs[0]} - {"HOLD"}, "every decision a HOLD"
    listed = await client.get(
        DECISIONS, headers=viewer, query_string={"agent": "committee", "limit": 3}
    )
    page = await listed.get_json()
    assert page["total"] == 10 and len(page["items"]) == 3
    early = await client.get(DECISIONS, headers=viewer, query_string={"end": day("2008-01-01")})
    assert (await early.get_json())["total"] == 4


async def test_look_ahead_is_refused_and_the_agent_holds(
    client: Any, import_bars: Any, trader: dict[str, str]
) -> None:
    await import_bars("GOOG", rows=300)
    body = {"agent": "peeker", "symbol": "GOOG", "as_of": day("2005-01-03")}
    decision = await post(client, ANALYZE, trader, body)
    assert decision["action"] == "HOLD" and decision["confidence"] == 0
    assert "look-ahead refused: bar at" in decision["reasoning"]
    assert "is after as_of 2005-01-03T00:00:00+00:00" in decision["error"]


def test_the_fence_itself() -> None:
    from quarkbot_plugins.agents.api import BarView

    start = datetime(2024, 1, 1, tzinfo=UTC)
    step = timedelta(days=1)
    bars = [BarView(start + i * step, 1, 2, 0.5, 1.5 + i, 10) for i in range(10)]
    ctx = Context("X", "1d", start + 5 * step, step, bars, [b.ts for b in bars])
    assert [b.ts for b in ctx.bars(100)] == [start + i * step for i in range(5)]
    assert ctx.bar_at(start + 4 * step).close == 5.5
    with pytest.raises(LookAhead):
        ctx.bar_at(start + 5 * step)
    assert ctx.reads == [f"refused bar at {(start + 6 * step).isoformat()}"]


async def test_bad_input(client: Any, import_bars: Any, trader: dict[str, str]) -> None:
    await import_bars("GOOG", rows=50)
    cases = [
        ({"agent": "nope", "symbol": "GOOG"}, ["body", "agent"]),
        ({"agent": "technical", "symbol": "NOPE"}, ["body", "symbol"]),
        ({"agent": "technical", "symbol": "GOOG", "parameters": {"fast": 0}},
         ["body", "parameters", "fast"]),
        ({"agent": "committee", "symbol": "GOOG",
          "parameters": {"members": [{"agent": "ghost"}]}}, ["body", "parameters"]),
        ({"symbol": "GOOG"}, ["body", "agent"]),
    ]  # fmt: skip
    for body, loc in cases:
        response = await client.post(ANALYZE, json=body, headers=trader)
        assert response.status_code == 422, (body, await response.get_data(as_text=True))
        detail = (await response.get_json())["detail"]
        assert detail[0]["loc"][: len(loc)] == loc, (body, detail)


async def test_roles_and_instance_crud(
    client: Any, import_bars: Any, trader: dict[str, str], viewer: dict[str, str]
) -> None:
    await import_bars("GOOG", rows=50)
    body = {"name": "goog committee", "agent_type": "committee", "symbols": ["GOOG"]}
    assert (await client.post(INSTANCES, json=body, headers=viewer)).status_code == 403
    analyze = {"agent": "technical", "symbol": "GOOG"}
    assert (await client.post(ANALYZE, json=analyze, headers=viewer)).status_code == 403
    assert (await client.get(DECISIONS, headers=viewer)).status_code == 200
    created = await post(client, INSTANCES, trader, body)
    assert created["owner"] and created["strategy_id"] == f"agent-{created['id']}"
    assert created["parameters"]["threshold"] == 0.25  # defaults stored
    url = f"{INSTANCES}/{created['id']}"
    bad = await client.patch(url, json={"parameters": {"threshold": 2}}, headers=trader)
    assert bad.status_code == 422
    assert (await bad.get_json())["detail"][0]["loc"][:3] == ["body", "parameters", "threshold"]
    for body in ({"name": None}, {"active": 0}, {"instance": 1}):
        refused = await client.patch(url, json=body, headers=trader)
        assert refused.status_code == 422, body
    patched = await client.patch(url, json={"active": False, "auto_trade": True}, headers=trader)
    assert (await patched.get_json())["active"] is False
    assert (await (await client.get(url, headers=trader)).get_json())["auto_trade"] is True
    assert (await client.get(url, headers=viewer)).status_code == 404  # not the viewer's
    assert (await client.delete(url, headers=trader)).status_code == 204
    assert (await client.get(url, headers=trader)).status_code == 404


async def test_risk_aware_reads_the_regime_through_the_context() -> None:
    from decimal import Decimal

    from quarkbot_plugins.agents.api import BarView, PortfolioView
    from quarkbot_plugins.agents.offline import RiskParams, risk_aware

    start, step = datetime(2024, 1, 1, tzinfo=UTC), timedelta(days=1)
    bars = [BarView(start + i * step, 100, 101, 99, 100 + i * 0.1, 10) for i in range(40)]
    held = PortfolioView(Decimal(1), Decimal(100), Decimal(0), Decimal(103), Decimal(103))
    seen: list[datetime] = []

    async def bear(as_of: datetime) -> str:
        seen.append(as_of)
        return "BEAR"

    as_of = start + 30 * step
    ctx = Context("X", "1d", as_of, step, bars, [b.ts for b in bars], held, regime=bear)
    said = await risk_aware(ctx, RiskParams())
    assert said.action == "SELL" and "regime 'BEAR' is risk-off" in said.reasoning
    assert seen == [as_of]
    calm = Context("X", "1d", as_of, step, bars, [b.ts for b in bars], PortfolioView())
    assert (await risk_aware(calm, RiskParams())).action == "BUY"  # uptrend, no regime
