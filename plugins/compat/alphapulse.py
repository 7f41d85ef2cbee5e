"""AlphaPulse's API, mounted under ``/alphapulse`` (its ``/api/v1/...`` paths are quarkbot's own
too, with quarkbot's shapes; a client points its base URL at ``http://host/alphapulse``).

``/alphapulse/token`` is quarkbot's OAuth2 password form and ``X-API-Key`` works as documented.
The WebSocket channels are ``/alphapulse/ws/{metrics,alerts,portfolio,trades}``.
"""

from __future__ import annotations

from typing import Any

from quart import request

from quarkbot_plugins.compat.adapters import Profile, items, number, numbers
from quarkbot_plugins.compat.forward import native, passthrough_response

profile = Profile("alphapulse", url_prefix="/alphapulse")


def _query() -> dict[str, Any]:
    return dict(request.args.items())


@profile.route("GET", "/health", ("GET", "/health"), role="public")
async def health() -> Any:
    body = (await native("GET", "/health", passthrough=False)).body
    return {"status": "ok" if body.get("status") == "ok" else body.get("status"), **body}


@profile.route("POST", "/token", ("POST", "/token"), role="public")
async def token() -> Any:
    form = await request.form
    answer = await native("POST", "/token", form=dict(form.items()), passthrough=False)
    return passthrough_response(answer)


# positions ----------------------------------------------------------------------------------------
def _position(row: dict[str, Any]) -> dict[str, Any]:
    quantity, mark = number(row["quantity"]), number(row.get("mark"))
    return {
        "symbol": row["symbol"],
        "quantity": quantity,
        "value_usd": quantity * mark if mark is not None else None,
        "avg_entry_price": number(row["avg_price"]),
        "leverage": number(row["leverage"]),
    }


@profile.route("GET", "/api/v1/positions/spot", ("GET", "/api/v1/positions/spot"))
async def spot() -> list[Any]:
    body = (await native("GET", "/api/v1/positions/spot", query={"limit": 1000})).body
    return [{k: v for k, v in _position(r).items() if k != "leverage"} for r in items(body)]


@profile.route("GET", "/api/v1/positions/futures", ("GET", "/api/v1/positions/futures"))
async def futures() -> list[Any]:
    body = (await native("GET", "/api/v1/positions/futures", query={"limit": 1000})).body
    return [_position(r) for r in items(body)]


@profile.route("GET", "/api/v1/positions/metrics", ("GET", "/api/v1/positions/metrics"))
async def position_metrics() -> list[Any]:
    body = (await native("GET", "/api/v1/positions/metrics")).body
    return [
        {
            "symbol": row["base_currency"],
            "spot_value": number(row["spot_value"]),
            "spot_qty": number(row["spot_quantity"]),
            "futures_value": number(row["futures_value"]),
            "futures_qty": number(row["futures_quantity"]),
            "net_exposure": number(row["net_exposure"]),
            "hedge_ratio": number(row["hedge_ratio"]),
        }
        for row in items(body)
    ]


# risk ---------------------------------------------------------------------------------------------
@profile.route("GET", "/api/v1/risk/exposure", ("GET", "/api/v1/risk/exposure"))
async def exposure() -> Any:
    return numbers((await native("GET", "/api/v1/risk/exposure", query=_query())).body)


RISK_METRICS = (
    "volatility",
    "var_95",
    "cvar_95",
    "max_drawdown",
    "sharpe_ratio",
    "sortino_ratio",
    "calmar_ratio",
)


@profile.route("GET", "/api/v1/risk/metrics", ("GET", "/api/v1/risk/metrics"))
async def risk_metrics() -> Any:
    body = (await native("GET", "/api/v1/risk/metrics", query=_query())).body
    return {**{name: body.get(name) for name in RISK_METRICS}, **body}


@profile.route("GET", "/api/v1/risk/limits", ("GET", "/api/v1/risk/limits"))
async def limits() -> Any:
    body = numbers((await native("GET", "/api/v1/risk/limits")).body)
    portfolio, drawdown = body["portfolio"], body["drawdown"]
    return {
        "position_limits": {"default": body["position"]["default"].get("max_notional")},
        "margin_limits": {"total": body["margin"].get("max_margin_utilization")},
        "exposure_limits": {"total": portfolio.get("max_gross_exposure")},
        "drawdown_limits": {"max": drawdown.get("max_drawdown_pct")},
        "quarkbot": body,  # the full native limits (units: see docs/migrating.md)
    }


@profile.route(
    "GET", "/api/v1/risk/position-size/<asset>", ("GET", "/api/v1/risk/position-size/BTC")
)
async def position_size(asset: str) -> Any:
    body = (await native("GET", f"/api/v1/risk/position-size/{asset}", query=_query())).body
    return {"asset": asset, **numbers(body)}


# hedging: quarkbot's own shapes are AlphaPulse's -------------------------------------------
@profile.route("GET", "/api/v1/hedging/analysis", ("GET", "/api/v1/hedging/analysis"))
async def hedging_analysis() -> Any:
    body = (await native("GET", "/api/v1/hedging/analysis", query=_query())).body
    shaped = numbers(body, ("current_net_exposure", "target_net_exposure"))
    shaped["risk_metrics"] = numbers(body["risk_metrics"])
    return shaped


async def _hedge(path: str) -> Any:
    data = await request.get_json(silent=True)
    answer = await native("POST", path, body=data if data is not None else {})
    return passthrough_response(answer)


@profile.route(
    "POST", "/api/v1/hedging/execute", ("POST", "/api/v1/hedging/execute"), role="trader"
)
async def hedging_execute() -> Any:
    return await _hedge("/api/v1/hedging/execute")


@profile.route("POST", "/api/v1/hedging/close", ("POST", "/api/v1/hedging/close"), role="trader")
async def hedging_close() -> Any:
    return await _hedge("/api/v1/hedging/close")


# portfolio ----------------------------------------------------------------------------------------
@profile.route("GET", "/api/v1/portfolio", ("GET", "/api/v1/portfolio"))
async def portfolio() -> Any:
    body = (await native("GET", "/api/v1/portfolio", query=_query())).body
    out: dict[str, Any] = {
        "total_value": number(body["total_equity"]),
        "cash": number(body["cash"]),
        "positions": [
            {
                "symbol": p["symbol"],
                "quantity": number(p["quantity"]),
                "value": number(p["value"]),
                "allocation": number(p["allocation"]),
            }
            for p in body["positions"]
        ],
    }
    if body.get("history") is not None:
        out["history"] = [
            {"timestamp": s["ts"], "total_value": number(s["total_equity"])}
            for s in body["history"]
        ]
    return out


@profile.route(
    "POST", "/api/v1/portfolio/reload", ("POST", "/api/v1/portfolio/reload"), role="admin"
)
async def reload() -> Any:
    body = (await native("POST", "/api/v1/portfolio/reload")).body
    return {
        "status": "success",
        "message": "Exchange data reloaded" if body["changed"] else "Books already up to date",
        "timestamp": body["snapshot"]["ts"],
        **body,
    }


# metrics and alerts: quarkbot's own shapes are AlphaPulse's ---------------------------------------
@profile.route("GET", "/api/v1/metrics/<metric_type>", ("GET", "/api/v1/metrics/x"))
async def metrics(metric_type: str) -> Any:
    return (await native("GET", f"/api/v1/metrics/{metric_type}", query=_query())).body


@profile.route("GET", "/api/v1/metrics/<metric_type>/latest", ("GET", "/api/v1/metrics/x/latest"))
async def metrics_latest(metric_type: str) -> Any:
    return (await native("GET", f"/api/v1/metrics/{metric_type}/latest")).body


@profile.route("GET", "/api/v1/alerts", ("GET", "/api/v1/alerts"))
async def alerts() -> Any:
    return items((await native("GET", "/api/v1/alerts", query=_query())).body)


@profile.route(
    "POST",
    "/api/v1/alerts/<int:alert_id>/acknowledge",
    ("POST", "/api/v1/alerts/1/acknowledge"),
    role="trader",
)
async def acknowledge(alert_id: int) -> Any:
    return (await native("POST", f"/api/v1/alerts/{alert_id}/acknowledge")).body


# regime (documented by AlphaPulse, never implemented there): mounted when quarkbot's is loaded
@profile.route("GET", "/api/v1/regime/current", ("GET", "/api/v1/regime/current"))
async def regime_current() -> Any:
    return (await native("GET", "/api/v1/regime/current", query=_query())).body


@profile.route("GET", "/api/v1/regime/history", ("GET", "/api/v1/regime/history"))
async def regime_history() -> Any:
    return (await native("GET", "/api/v1/regime/history", query=_query())).body


@profile.route("POST", "/api/v1/regime/analyze", ("POST", "/api/v1/regime/analyze"))
async def regime_analyze() -> Any:
    answer = await native("POST", "/api/v1/regime/analyze", body=await request.get_json())
    return passthrough_response(answer)
