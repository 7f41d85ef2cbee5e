"""External strategies: registry entries whose signals and orders arrive through the API.

A strategy that runs elsewhere (a notebook, a TradingView alert, another bot) is created without
a type (``type`` ``external``). quarkbot never evaluates it; the system running it posts its
signals here (stored and published on ``execution:signals`` like any live signal) and places its
orders with ``POST /api/v1/orders`` naming the strategy's id, through every gate.
"""

from __future__ import annotations

from typing import Any

from tortoise.exceptions import IntegrityError

from quarkbot.errors import Conflict, Invalid
from quarkbot.types import utc_now
from quarkbot_plugins.strategies import service
from quarkbot_plugins.strategies.models import Signal, StrategyInstance
from quarkbot_plugins.strategies.recording import publish_signal


async def post_signal(instance: StrategyInstance, data: dict[str, Any]) -> Signal:
    """Store and publish one signal of an external strategy (422 for a typed strategy, 409 for
    the same strategy, symbol, time and side twice)."""
    if instance.type != service.EXTERNAL_TYPE:
        raise Invalid.at(
            ["path", "strategy_id"],
            "only an external strategy takes posted signals (a typed one computes its own)",
        )
    await service.check_symbols([data["symbol"]])
    ts = data.get("ts") or utc_now()
    try:
        row = await Signal.create(
            strategy_id=instance.id,
            strategy_name=instance.name,
            symbol=data["symbol"],
            side=data["side"],
            confidence=float(data["confidence"]),
            reasoning=data.get("reasoning") or "",
            ts=ts,
            price=data["price"],
        )
    except IntegrityError as exc:
        raise Conflict("This signal was posted already", code="DUPLICATE_SIGNAL") from exc
    await publish_signal(row)
    return row
