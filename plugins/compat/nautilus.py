"""The Nautilus dashboard API: ``/api/trading/...`` and ``/api/budget/...``.

Its orders are addressed by ``client_order_id``; its instruments are quarkbot's symbols.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from quart import request

from quarkbot_plugins.compat.adapters import Profile, items
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


# budget: the same paths under /api/v1 -------------------------------------------------------------
async def _same(method: str, path: str) -> Any:
    body = await request.get_json(silent=True) if method == "PUT" else None
    answer = await native(method, "/api/v1" + path, query=_query(), body=body)
    return passthrough_response(answer)


@profile.route("GET", "/api/budget/registry", ("GET", "/api/v1/budget/registry"))
async def budget_registry() -> Any:
    return await _same("GET", "/budget/registry")


@profile.route("GET", "/api/budget/<strategy_id>", ("GET", f"/api/v1/budget/{SAMPLE}"))
async def budget(strategy_id: str) -> Any:
    return await _same("GET", f"/budget/{quote(strategy_id, safe='')}")


@profile.route(
    "PUT",
    "/api/budget/<strategy_id>/<currency>",
    ("PUT", f"/api/v1/budget/{SAMPLE}/{SAMPLE}"),
    role="trader",
)
async def put_budget(strategy_id: str, currency: str) -> Any:
    return await _same("PUT", f"/budget/{quote(strategy_id, safe='')}/{quote(currency, safe='')}")


@profile.route(
    "DELETE",
    "/api/budget/<strategy_id>/<currency>",
    ("DELETE", f"/api/v1/budget/{SAMPLE}/{SAMPLE}"),
    role="trader",
)
async def delete_budget(strategy_id: str, currency: str) -> Any:
    path = f"/budget/{quote(strategy_id, safe='')}/{quote(currency, safe='')}"
    return await _same("DELETE", path)


@profile.route(
    "GET",
    "/api/budget/<strategy_id>/pnl/realized",
    ("GET", f"/api/v1/budget/{SAMPLE}/pnl/realized"),
)
async def realized_pnl(strategy_id: str) -> Any:
    return await _same("GET", f"/budget/{quote(strategy_id, safe='')}/pnl/realized")
