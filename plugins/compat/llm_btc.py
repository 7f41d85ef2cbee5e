"""The LLM-BTC dashboard backend: ``/api/backtests``, ``/api/backtests/{id}`` and ``/ws``
messages ``{"type": "trade", "data": {...}}``."""

from __future__ import annotations

from typing import Any

from quarkbot_plugins.compat.adapters import Profile, items, number, numbers
from quarkbot_plugins.compat.forward import native

profile = Profile("llm_btc")


def _backend(row: dict[str, Any]) -> Any:
    """The seed's ``backend`` ("ollama", "groq"): the agent's provider that an agent backtest
    records in its metrics or parameters; other backtests name their strategy type."""
    for part in ("metrics", "params"):
        backend = (row.get(part) or {}).get("backend")
        if backend:
            return backend
    return row["strategy_type"]


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "start_date": row["start"],
        "end_date": row["end"],
        "initial_capital": number(row["initial_capital"]),
        "final_value": number(row["final_value"]),
        "total_return_pct": row["total_return_pct"],
        "total_trades": row["total_trades"],
        "backend": _backend(row),
        "status": row["status"],
        "symbols": row["symbols"],
    }


@profile.route("GET", "/api/backtests", ("GET", "/api/v1/backtests"))
async def backtests() -> list[Any]:
    body = (await native("GET", "/api/v1/backtests", query={"limit": 1000})).body
    return [_summary(row) for row in items(body)]


def _trade(number_: int, trade: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": number_,
        "timestamp": trade["entry_time"],
        "asset": trade["symbol"],
        "action": "BUY",
        "price": trade["entry_price"],
        "quantity": trade["size"],
        "exit_time": trade["exit_time"],
        "exit_price": trade["exit_price"],
        "pnl": trade["pnl"],
        "reasoning": trade["reasoning"],
        "confidence": round(trade["confidence"]) if trade["confidence"] is not None else None,
    }


@profile.route("GET", "/api/backtests/<int:backtest_id>", ("GET", "/api/v1/backtests/1"))
async def backtest(backtest_id: int) -> dict[str, Any]:
    row = (await native("GET", f"/api/v1/backtests/{backtest_id}")).body
    metrics = dict(row.get("metrics") or {})
    metrics.setdefault("max_drawdown", metrics.get("max_drawdown_pct"))
    metrics.setdefault("alpha_vs_hold", metrics.get("alpha_pct"))
    equity = [
        {"timestamp": p["ts"], "portfolio_value": p["value"], "btc_price": p["benchmark_price"]}
        for p in row.get("equity") or []
    ]
    trades = [_trade(n, t) for n, t in enumerate(row.get("trades") or [], start=1)]
    return {**_summary(row), "metrics": numbers(metrics), "equity_curve": equity, "trades": trades}
