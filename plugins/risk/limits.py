"""The limits document: kept on the trading-state row (so that the gate reads the state and the
limits in one query), replaced whole by an admin, parsed once per change."""

from __future__ import annotations

from typing import Any

from quarkbot import events
from quarkbot.types import utc_now
from quarkbot_plugins.risk.alerts import alert
from quarkbot_plugins.risk.gate_version import bump_with_commit
from quarkbot_plugins.risk.models import TradingState
from quarkbot_plugins.risk.schemas import Limits
from quarkbot_plugins.risk.trading_state import STATE_ID, state_row

_limits_cache: tuple[dict[str, Any], Limits] | None = None


def parse_limits(document: dict[str, Any]) -> Limits:
    """The limits document, parsed once per change (the last document parsed is kept)."""
    global _limits_cache
    if _limits_cache is None or _limits_cache[0] != document:
        _limits_cache = (document, Limits.model_validate(document or {}))
    return _limits_cache[1]


async def current_limits() -> tuple[Limits, TradingState | None]:
    row = await TradingState.get_or_none(id=STATE_ID)
    return parse_limits(row.limits if row is not None else {}), row


async def set_limits(limits: Limits, actor: str) -> tuple[Limits, TradingState]:
    document = limits.model_dump(mode="json")
    await state_row()
    async with events.atomic():  # the event in the change's transaction (outbox)
        await TradingState.filter(id=STATE_ID).update(
            limits=document, limits_updated_by=actor, limits_updated_at=utc_now()
        )
        await bump_with_commit()
        await alert("limits.updated", {"limits": document, "actor": actor})
    return limits, await state_row()
