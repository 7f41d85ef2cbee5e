"""alpha-oracle's API layer: ``/api/portfolio``, ``/api/strategies``, ``/api/risk``,
``/api/trades``, ``/api/system`` and ``/ws`` messages ``{"channel", "data"}``.

alpha-oracle's "strategies" are strategy classes: quarkbot's strategy types. Its signals and
backtests by class name run over the caller's instances of that type.
"""

from __future__ import annotations

from typing import Any

from quart import request

from quarkbot.errors import NotFound
from quarkbot_plugins.compat.adapters import Profile, items, number, numbers, upper
from quarkbot_plugins.compat.forward import native

profile = Profile("alpha_oracle")
MONEY = (
    "total_equity",
    "cash",
    "positions_value",
    "daily_pnl",
    "daily_pnl_pct",
    "max_drawdown_pct",
    "quantity",
    "avg_price",
    "mark",
    "value",
    "notional",
    "unrealized_pnl",
    "realized_pnl",
    "allocation",
)


def _args(*names: str) -> dict[str, Any]:
    return {name: request.args.get(name) for name in names}


# portfolio ----------------------------------------------------------------------------------------
@profile.route("GET", "/api/portfolio", ("GET", "/api/v1/portfolio"))
async def portfolio() -> dict[str, Any]:
    body = (await native("GET", "/api/v1/portfolio")).body
    shaped = numbers({k: v for k, v in body.items() if k not in ("snapshot", "history")}, MONEY)
    shaped["sector_exposure"] = numbers(body["sector_exposure"])
    return {"timestamp": body["ts"], **shaped}


@profile.route("GET", "/api/portfolio/positions", ("GET", "/api/v1/portfolio"))
async def positions() -> list[Any]:
    body = (await native("GET", "/api/v1/portfolio")).body
    return list(numbers(body["positions"], MONEY))


@profile.route("GET", "/api/portfolio/history", ("GET", "/api/v1/portfolio/history"))
async def history() -> list[Any]:
    query = {**_args("start", "end"), "limit": 1000}
    rows = items((await native("GET", "/api/v1/portfolio/history", query=query)).body)
    return [{"timestamp": row["ts"], **numbers(row, MONEY)} for row in rows]


@profile.route(
    "GET", "/api/portfolio/sector_exposure", ("GET", "/api/v1/portfolio/sector-exposure")
)
async def sector_exposure() -> dict[str, Any]:
    body = (await native("GET", "/api/v1/portfolio/sector-exposure")).body
    return dict(numbers(body["sector_exposure"]))


# strategies ---------------------------------------------------------------------------------------
def _strategy_class(stype: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": stype["name"],
        "description": stype["description"],
        "min_hold_days": stype["min_hold_days"],
        "params": stype["defaults"],
        "required_data": [f"bars:{stype['timeframe']}"],
        "lookback": stype["lookback"],
    }


async def _types() -> list[dict[str, Any]]:
    return items((await native("GET", "/api/v1/strategies/types")).body)


@profile.route("GET", "/api/strategies", ("GET", "/api/v1/strategies/types"))
async def strategies() -> list[Any]:
    return [_strategy_class(t) for t in await _types()]


@profile.route("GET", "/api/strategies/rankings", ("GET", "/api/v1/strategies/rankings"))
async def rankings() -> Any:
    body = (await native("GET", "/api/v1/strategies/rankings", query=_args("limit"))).body
    return numbers(items(body))


@profile.route("GET", "/api/strategies/<name>", ("GET", "/api/v1/strategies/types"))
async def strategy(name: str) -> dict[str, Any]:
    for stype in await _types():
        if stype["name"] == name:
            return _strategy_class(stype)
    raise NotFound(f"Strategy {name!r} not found")


async def _instances_of(name: str) -> list[dict[str, Any]]:
    query = {"type": name, "limit": 1000}
    return items((await native("GET", "/api/v1/strategies", query=query)).body)


@profile.route("GET", "/api/strategies/<name>/signals", ("GET", "/api/v1/strategies/1/signals"))
async def signals(name: str) -> list[Any]:
    """The signals of the caller's instances of type ``name``, newest first."""
    limit = int(request.args.get("limit") or 100)
    found: list[dict[str, Any]] = []
    for instance in await _instances_of(name):
        query = {**_args("start", "end"), "limit": min(max(limit, 1), 1000)}
        path = f"/api/v1/strategies/{instance['id']}/signals"
        found += items((await native("GET", path, query=query)).body)
    found.sort(key=lambda s: s["ts"], reverse=True)
    return [
        {**numbers(s, ("price",)), "side": upper(s["side"]), "timestamp": s["ts"]}
        for s in found[:limit]
    ]


@profile.route(
    "POST", "/api/strategies/<name>/backtest", ("POST", "/api/v1/backtests"), role="trader"
)
async def backtest(name: str) -> Any:
    """Queue a backtest of type ``name`` (202 with its id: long work never blocks a request);
    the result is at ``GET /api/backtests/{id}`` (llm_btc profile) or ``/api/v1/backtests/{id}``."""
    data = await request.get_json(silent=True) or {}
    symbols = data.get("symbols") or sorted(
        {s for instance in await _instances_of(name) for s in instance["symbols"]}
    )
    body = {
        "strategy_type": name,
        "start": data.get("start"),
        "end": data.get("end"),
        "symbols": symbols,
    }
    if data.get("initial_capital") is not None:
        body["initial_capital"] = data["initial_capital"]
    answer = await native("POST", "/api/v1/backtests", body=body)
    return {"strategy_name": name, "status": "queued", **answer.body}, answer.status


# risk ---------------------------------------------------------------------------------------------
def _breaker(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": row["name"],
        "tripped": row["state"] != "closed",
        "reason": row["reason"],
        **row,
    }


async def _breakers() -> list[dict[str, Any]]:
    body = (await native("GET", "/api/v1/risk/circuit-breakers", query={"limit": 1000})).body
    return [_breaker(row) for row in items(body)]


@profile.route("GET", "/api/risk/limits", ("GET", "/api/v1/risk/limits"))
async def risk_limits() -> dict[str, Any]:
    limits = numbers((await native("GET", "/api/v1/risk/limits")).body)
    pdt = numbers((await native("GET", "/api/v1/risk/pdt-status")).body)
    return {
        "position_limits": limits["position"],
        "portfolio_limits": {**limits["portfolio"], "drawdown": limits["drawdown"]},
        "margin_limits": limits["margin"],
        "pdt_guard": pdt,
        "circuit_breakers": await _breakers(),
    }


@profile.route("GET", "/api/risk/pdt-status", ("GET", "/api/v1/risk/pdt-status"))
async def pdt_status() -> Any:
    return numbers((await native("GET", "/api/v1/risk/pdt-status", query=_args("limit"))).body)


@profile.route("GET", "/api/risk/circuit-breakers", ("GET", "/api/v1/risk/circuit-breakers"))
async def circuit_breakers() -> list[Any]:
    return await _breakers()


@profile.route("GET", "/api/risk/kill-switch", ("GET", "/api/v1/risk/kill-switch"))
async def kill_switch() -> Any:
    return (await native("GET", "/api/v1/risk/kill-switch")).body


KILL_SWITCH_ANSWERS = {
    "activate": ("activated", "Kill switch activated. All trading halted."),
    "reduce": ("reducing", "Trading reduced: only exposure-reducing orders pass."),
    "deactivate": ("deactivated", "Kill switch deactivated. Trading resumed."),
}


@profile.route("POST", "/api/risk/kill-switch", ("POST", "/api/v1/risk/kill-switch"), role="admin")
async def set_kill_switch() -> Any:
    """The same request body as quarkbot's (a deactivation needs no reason there either)."""
    data = await request.get_json(silent=True)
    body = (await native("POST", "/api/v1/risk/kill-switch", body=data)).body
    status, message = KILL_SWITCH_ANSWERS.get(str((data or {}).get("action")), ("", ""))
    return {"status": status, "message": message, **body}


# trades -------------------------------------------------------------------------------------------
def _order(row: dict[str, Any]) -> dict[str, Any]:
    filled = row["status"] in ("FILLED", "PARTIALLY_FILLED")
    return {
        **numbers(row, ("quantity", "filled_quantity", "fees", "leverage")),
        "side": upper(row["side"]),
        "order_type": upper(row["type"]),
        "limit_price": number(row["price"]),
        "stop_price": number(row["stop_price"]),
        "filled_price": number(row["avg_fill_price"]),
        "filled_at": row["closed_at"] if filled else None,
    }


@profile.route("GET", "/api/trades/orders", ("GET", "/api/v1/orders"))
async def orders() -> list[Any]:
    query = {**_args("start", "end", "status", "symbol"), "limit": request.args.get("limit")}
    return [_order(row) for row in items((await native("GET", "/api/v1/orders", query=query)).body)]


@profile.route("GET", "/api/trades/orders/<int:order_id>", ("GET", "/api/v1/orders/1"))
async def order(order_id: int) -> Any:
    return _order((await native("GET", f"/api/v1/orders/{order_id}")).body)


@profile.route("GET", "/api/trades/trades", ("GET", "/api/v1/trades"))
async def trades() -> list[Any]:
    query = {**_args("start", "end", "symbol"), "limit": request.args.get("limit")}
    return list(numbers(items((await native("GET", "/api/v1/trades", query=query)).body)))


@profile.route("GET", "/api/trades/execution-quality", ("GET", "/api/v1/trades/execution-quality"))
async def execution_quality() -> list[Any]:
    body = (
        await native("GET", "/api/v1/trades/execution-quality", query=_args("start", "end"))
    ).body
    return list(numbers(items(body)))


# system -------------------------------------------------------------------------------------------
def _connected(component: dict[str, Any] | None) -> str:
    if component is None:
        return "not_configured"
    return "connected" if component.get("status") == "ok" else "disconnected"


@profile.route("GET", "/api/system/health", ("GET", "/health"), role="public")
async def health() -> dict[str, Any]:
    body = (await native("GET", "/health", passthrough=False)).body
    components = body.get("components", {})
    broker = components.get("broker") or components.get("trading")
    return {
        "broker": _connected(broker),
        "feed": _connected(components.get("market_data") or components.get("feed")),
        "database": _connected(components.get("database")),
        "redis": _connected(components.get("redis")),
        "ibkr_gateway_connected": False,  # quarkbot has no IBKR gateway (docs/migrating.md)
        "status": body.get("status"),
        "components": components,
    }


@profile.route("GET", "/api/system/status", ("GET", "/api/v1/system/status"))
async def status() -> dict[str, Any]:
    body = (await native("GET", "/api/v1/system/status")).body
    health_ = await health()
    return {
        "broker": health_["broker"],
        "feed": health_["feed"],
        "ibkr_gateway_connected": False,
        **body,
    }


@profile.route("GET", "/api/system/scheduler/jobs", ("GET", "/api/v1/system/jobs"))
async def jobs() -> list[Any]:
    body = (await native("GET", "/api/v1/system/jobs")).body
    return [
        {"id": job["name"], "next_run_time": job.get("next_run_at"), **job} for job in items(body)
    ]


@profile.route(
    "POST",
    "/api/system/scheduler/trigger/<job_name>",
    ("POST", "/api/v1/system/jobs/x/trigger"),
    role="admin",
)
async def trigger(job_name: str) -> Any:
    answer = await native("POST", f"/api/v1/system/jobs/{job_name}/trigger")
    return {"status": "triggered", "job": job_name, **answer.body}, answer.status
