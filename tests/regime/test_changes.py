"""A regime change arrives exactly once on /ws (``regime:changes``) over two runs of the
evaluation job; the history before it is stored (a backfill) without being published."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from quarkbot_plugins.regime import core
from quarkbot_plugins.regime.models import RegimeTransition

from .conftest import goog


def first_change_after(bar: int) -> int:
    """The first bar after ``bar`` where the rule classifier's regime changes (GOOG)."""
    _dates, closes, volumes = goog()
    cfg = core.RuleConfig()
    regimes = [
        core.classify(f, cfg).regime for f in core.features_series(closes, volumes, cfg, 252)
    ]
    return next(i for i in range(bar + 1, len(regimes)) if regimes[i] != regimes[i - 1])


async def messages(ws: Any, quiet: float = 2.0) -> list[dict[str, Any]]:
    out = []
    while True:
        try:
            out.append(json.loads(await asyncio.wait_for(ws.receive(), quiet)))
        except TimeoutError:
            return out


async def test_a_change_arrives_once_over_two_evaluations(
    app: Any, client: Any, viewer: dict, import_bars: Any, run_worker: Any, regime_env: Any,
    open_socket: Any,
) -> None:  # fmt: skip
    host = app.extensions["quarkbot"]
    regime_env(model="rules", min_fit_bars=20_000)
    await import_bars("GOOG", "1d", rows=400)
    await host.enqueue("regime.backfill", "GOOG", "1d")  # history: stored, not published
    await run_worker()
    history = await RegimeTransition.filter(symbol="GOOG").count()
    assert history > 1
    change = first_change_after(399)
    await import_bars("GOOG", "1d", rows=change + 1)

    async with client.websocket("/ws") as ws:
        await open_socket(ws, viewer, ["regime:changes"])
        for _run in range(2):
            await host.enqueue("regime.evaluate", "GOOG", "1d")
            await run_worker()
        got = [m for m in await messages(ws) if m.get("channel") == "regime:changes"]

    new = await RegimeTransition.filter(symbol="GOOG").order_by("-ts").first()
    assert new is not None and new.published_at is not None
    assert await RegimeTransition.filter(symbol="GOOG").count() == history + 1
    assert len(got) == 1, got
    data = got[0]["data"]
    assert got[0]["type"] == "change"
    assert data["ts"] == new.ts.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (data["symbol"], data["regime"], data["from_regime"]) == (
        "GOOG", new.to_regime, new.from_regime,
    )  # fmt: skip
    assert data["model_version"] == "rules-1"


async def test_entering_high_vol_raises_an_alert_and_leaving_resolves_it(
    app: Any, client: Any, viewer: dict, import_bars: Any
) -> None:
    from datetime import UTC, datetime

    from quarkbot_plugins.alerts.models import Alert
    from quarkbot_plugins.regime import store

    await import_bars("GOOG", "1d", rows=10)
    day = datetime(2004, 9, 1, tzinfo=UTC)
    for n, (before, after) in enumerate([(None, "HIGH_VOL"), ("HIGH_VOL", "BULL")]):
        await RegimeTransition.create(
            symbol="GOOG", timeframe="1d", ts=day.replace(day=1 + n), from_regime=before,
            to_regime=after, confidence=0.7, model_version="rules-1",
        )  # fmt: skip
        assert await store.publish_pending("GOOG", "1d") == 1
        alert = await Alert.get(fingerprint="regime:GOOG:1d:HIGH_VOL")
        assert alert.source == "regime" and alert.severity == "warning"
        assert (alert.status == "resolved") is (after != "HIGH_VOL")
    assert await store.publish_pending("GOOG", "1d") == 0
