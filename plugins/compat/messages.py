"""The seed systems' WebSocket message shapes (``quarkbot.ws.MessageProfile``), over the bus's
events ``{"channel", "type", "seq", "ts", "data"}``: same events, same permissions."""

from __future__ import annotations

from typing import Any

from quarkbot.ws import MessageProfile
from quarkbot_plugins.compat.adapters import number, numbers

#: alpha-oracle's ``/ws`` subscribes to these on connect (its dashboard never subscribes).
ALPHA_ORACLE_CHANNELS = (
    "execution:fills",
    "execution:signals",
    "market:quotes:*",
    "risk:alerts",
    "system:feed:*",
    "ml:drift:*",
)
ALPHAPULSE_TYPES = {
    "metrics": "metrics_update",
    "alerts": "new_alert",
    "portfolio": "portfolio_update",
    "trades": "new_trade",
}


def alpha_oracle(event: dict[str, Any]) -> dict[str, Any]:
    return {"channel": event["channel"], "data": event["data"]}


def llm_btc(event: dict[str, Any]) -> dict[str, Any] | None:
    if event["channel"] != "execution:fills":
        return None
    fill = event["data"]
    return {
        "type": "trade",
        "data": {
            "id": fill["order_id"],
            "asset": fill["symbol"],
            "action": str(fill["side"]).upper(),
            "price": number(fill["price"]),
            "quantity": number(fill["quantity"]),
            "reasoning": fill.get("reasoning") or "",
            "timestamp": fill["ts"],
            "client_order_id": fill["client_order_id"],
        },
    }


def _alphapulse_data(channel: str, kind: str, data: Any) -> Any | None:
    if channel == "trades":
        return {
            "id": data["fill_id"],
            "symbol": data["symbol"],
            "side": data["side"],
            "quantity": number(data["quantity"]),
            "price": number(data["price"]),
            "timestamp": data["ts"],
            "order_id": data["order_id"],
        }
    if channel == "portfolio":
        if kind != "snapshot":
            return None  # a fill's "changed" notice: the snapshot that follows carries values
        return {
            "total_value": number(data["total_equity"]),
            "cash": number(data["cash"]),
            "positions_value": number(data["positions_value"]),
            "timestamp": data["ts"],
        }
    if channel == "alerts" and kind != "new_alert":
        return None  # acknowledgements and resolutions: AlphaPulse only announces new alerts
    return numbers(data) if isinstance(data, dict) else data


def alphapulse(event: dict[str, Any]) -> dict[str, Any] | None:
    channel = event["channel"]
    kind = ALPHAPULSE_TYPES.get(channel)
    if kind is None:
        return None
    data = _alphapulse_data(channel, event.get("type", ""), event["data"])
    return None if data is None else {"type": kind, "data": data}


PROFILES = {
    "alpha_oracle": MessageProfile(
        "alpha_oracle", alpha_oracle, channels=ALPHA_ORACLE_CHANNELS, control=False
    ),
    "llm_btc": MessageProfile("llm_btc", llm_btc, channels=("execution:fills",)),
    "alphapulse": MessageProfile("alphapulse", alphapulse),
}
