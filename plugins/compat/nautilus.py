"""The Nautilus dashboard API: ``/api/trading/...`` and ``/api/budget/...``.

Its orders are addressed by ``client_order_id``; its instruments are quarkbot's symbols.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from quart import request

from quarkbot_plugins.compat.adapters import Profile, items, numbers
from quarkbot_plugins.compat.forward import native, passthrough_response

profile = Profile("nautilus")
SAMPLE = "x"  # a path segment standing for any value, to find the native route


def _query(renames: dict[str, str] | None = None) -> dict[str, Any]:
    """The request's query, Nautilus' names mapped to quarkbot's (``instrument_id`` is a
    symbol)."""
    names = {"instrument_id": "symbol", **(renames or {})}
    return {names.get(k, k): v for k, v in request.args.items()}


def _with_instrument(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**row, "instrument_id": row.get("symbol")} for row in rows]


async def _list(path: str) -> list[Any]:
    return _with_instrument(items((await native("GET", path, query=_query())).body))


@profile.route("GET", "/api/trading/strategies", ("GET", "/api/v1/strategies"))
async def strategies() -> list[Any]:
    return items((await native("GET", "/api/v1/strategies", query=_query())).body)


@profile.route("GET", "/api/trading/orders", ("GET", "/api/v1/orders"))
async def orders() -> list[Any]:
    return await _list("/api/v1/orders")


async def _order(client_order_id: str) -> dict[str, Any]:
    path = f"/api/v1/orders/by-client-id/{quote(client_order_id, safe='')}"
    body: dict[str, Any] = (await native("GET", path)).body
    return body


@profile.route(
    "GET", "/api/trading/orders/<client_order_id>", ("GET", f"/api/v1/orders/by-client-id/{SAMPLE}")
)
async def order(client_order_id: str) -> dict[str, Any]:
    return _with_instrument([await _order(client_order_id)])[0]


@profile.route(
    "GET", "/api/trading/orders/<client_order_id>/fills", ("GET", "/api/v1/orders/1/fills")
)
async def order_fills(client_order_id: str) -> list[Any]:
    found = await _order(client_order_id)
    return _with_instrument(
        items((await native("GET", f"/api/v1/orders/{found['id']}/fills")).body)
    )


@profile.route(
    "GET",
    "/api/trading/orders/<client_order_id>/deny-reason",
    ("GET", "/api/v1/orders/1/deny-reason"),
)
async def deny_reason(client_order_id: str) -> Any:
    found = await _order(client_order_id)
    return (await native("GET", f"/api/v1/orders/{found['id']}/deny-reason")).body


@profile.route("GET", "/api/trading/fills", ("GET", "/api/v1/fills"))
async def fills() -> list[Any]:
    return await _list("/api/v1/fills")


@profile.route("GET", "/api/trading/fills/summary", ("GET", "/api/v1/fills/summary"))
async def fills_summary() -> Any:
    return (await native("GET", "/api/v1/fills/summary", query=_query())).body


@profile.route("GET", "/api/trading/positions", ("GET", "/api/v1/positions"))
async def positions() -> list[Any]:
    return await _list("/api/v1/positions")


@profile.route("GET", "/api/trading/summary", ("GET", "/api/v1/trading/summary"))
async def summary() -> Any:
    return (await native("GET", "/api/v1/trading/summary", query=_query())).body


@profile.route("GET", "/api/trading/audit", ("GET", "/api/v1/audit"), role="admin")
async def audit() -> list[Any]:
    return items((await native("GET", "/api/v1/audit", query=_query())).body)


# budget -------------------------------------------------------------------------------------------
MONEY = ("allocated", "reserved", "committed", "available", "realized_pnl", "total_fees")


def _quoted(*parts: str) -> str:
    return "/".join(quote(part, safe="") for part in parts)


async def _fees(strategy_id: str) -> dict[str, Any]:
    path = f"/api/v1/budget/{_quoted(strategy_id)}/pnl/realized"
    rows = items((await native("GET", path, query={"limit": 1000})).body)
    return {row["currency"]: row["total_fees"] for row in rows}


async def _summary(row: dict[str, Any], fees: dict[str, Any] | None = None) -> dict[str, Any]:
    """A native budget row as Nautilus' BudgetSummaryResponse (numbers, ``total_fees``)."""
    if fees is None:
        fees = await _fees(row["strategy_id"])
    return dict(numbers({**row, "total_fees": fees.get(row["currency"], "0")}, MONEY))


@profile.route("GET", "/api/budget/registry", ("GET", "/api/v1/budget/registry"))
async def budget_registry() -> list[Any]:
    body = (await native("GET", "/api/v1/budget/registry", query={"limit": 1000})).body
    return [dict(numbers(row, MONEY)) for row in items(body)]


@profile.route("GET", "/api/budget/<strategy_id>", ("GET", f"/api/v1/budget/{SAMPLE}"))
async def budget(strategy_id: str) -> Any:
    """The strategy's budget: one summary, or a list when it has several currencies."""
    body = (await native("GET", f"/api/v1/budget/{_quoted(strategy_id)}")).body
    fees = await _fees(strategy_id)
    rows = [await _summary(row, fees) for row in items(body)]
    return rows[0] if len(rows) == 1 else rows


@profile.route(
    "PUT",
    "/api/budget/<strategy_id>/<currency>",
    ("PUT", f"/api/v1/budget/{SAMPLE}/{SAMPLE}"),
    role="trader",
)
async def put_budget(strategy_id: str, currency: str) -> Any:
    data = await request.get_json(silent=True)
    path = f"/api/v1/budget/{_quoted(strategy_id, currency)}"
    answer = await native("PUT", path, body=data)
    return await _summary(answer.body), answer.status


@profile.route(
    "DELETE",
    "/api/budget/<strategy_id>/<currency>",
    ("DELETE", f"/api/v1/budget/{SAMPLE}/{SAMPLE}"),
    role="trader",
)
async def delete_budget(strategy_id: str, currency: str) -> Any:
    answer = await native("DELETE", f"/api/v1/budget/{_quoted(strategy_id, currency)}")
    return passthrough_response(answer)


@profile.route(
    "GET",
    "/api/budget/<strategy_id>/pnl/realized",
    ("GET", f"/api/v1/budget/{SAMPLE}/pnl/realized"),
)
async def realized_pnl(strategy_id: str) -> Any:
    path = f"/api/v1/budget/{_quoted(strategy_id)}/pnl/realized"
    body = (await native("GET", path, query=_query())).body
    return numbers(body, ("realized_pnl", "total_fees", "net_pnl"))
