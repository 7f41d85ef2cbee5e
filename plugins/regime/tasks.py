"""The crons' work: each watched pair (``QUARKBOT_REGIME_WATCH``) refitted or evaluated; a pair
that fails is logged and the others go on."""

from __future__ import annotations

import logging
from typing import Any

from quarkbot.errors import DomainError
from quarkbot.plugin_settings import settings_of
from quarkbot_plugins.regime.settings import RegimeSettings

log = logging.getLogger("quarkbot.regime")


async def for_watched(what: str) -> dict[str, Any]:
    from quarkbot_plugins.regime import fits, store

    out: dict[str, Any] = {}
    for pair in settings_of(RegimeSettings).watch:
        symbol, _, timeframe = pair.partition(":")
        try:
            if what == "fit":
                out[pair] = await fits.refit(symbol, timeframe or "1d")
            else:
                out[pair] = await store.evaluate(symbol, timeframe or "1d")
        except DomainError as exc:
            log.warning("regime %s of %s: %s", what, pair, exc)
            out[pair] = {"error": str(exc)}
    return out
