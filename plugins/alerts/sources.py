"""Built-in alert sources: events other plugins publish, and the worker watchdog.

``watch_events`` (part of the job ``alerts.evaluate``) reads the event streams from where it
stopped (a cursor per channel in Redis), so an event published while no worker ran is still
seen: circuit breakers tripping and closing and kill-switch changes (``risk:alerts``), the
market-data feed (``system:feed:disconnected`` / ``connected``) and model drift
(``ml:drift:{model}``). ``watch_worker`` runs in each web process: the worker cannot report
its own absence.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from quarkbot import events
from quarkbot.plugin_settings import settings_of
from quarkbot.redis_conn import current_redis, key
from quarkbot_plugins.alerts import lifecycle
from quarkbot_plugins.alerts.settings import AlertsSettings

log = logging.getLogger("quarkbot.alerts")

FIXED_CHANNELS = ("risk:alerts", "system:feed:disconnected", "system:feed:connected")
DRIFT_PREFIX = "ml:drift:"

Handler = Callable[[str, str, dict[str, Any]], Awaitable[None]]


async def _risk(channel: str, kind: str, data: dict[str, Any]) -> None:
    if kind == "breaker.tripped":
        name = str(data.get("name", "?"))
        await lifecycle.raise_alert(
            f"builtin:circuit_breaker:{name}", "circuit_breaker", "critical",
            f"Circuit breaker {name} tripped: {data.get('reason') or ''}".strip(),
            labels={"breaker": name},
        )  # fmt: skip
    elif kind in ("breaker.closed", "breaker.reset"):
        await lifecycle.resolve_fingerprint(f"builtin:circuit_breaker:{data.get('name')}", "system")
    elif kind in ("kill_switch.activated", "kill_switch.reduced"):
        severity = "critical" if kind.endswith("activated") else "warning"
        state = "HALTED" if severity == "critical" else "REDUCING"
        await lifecycle.raise_alert(
            "builtin:kill_switch", "kill_switch", severity,
            f"Trading {state} by {data.get('actor', '?')}: {data.get('reason') or ''}".strip(),
            labels={"state": state},
        )  # fmt: skip
    elif kind == "kill_switch.deactivated":
        await lifecycle.resolve_fingerprint("builtin:kill_switch", "system")


async def _feed(channel: str, kind: str, data: dict[str, Any]) -> None:
    if channel.endswith("disconnected"):
        await lifecycle.raise_alert(
            "builtin:feed_disconnected", "feed", "warning",
            f"Market-data feed disconnected: {data.get('reason') or ''}".strip(),
        )  # fmt: skip
    else:
        await lifecycle.resolve_fingerprint("builtin:feed_disconnected", "system")


async def _drift(channel: str, kind: str, data: dict[str, Any]) -> None:
    model = channel[len(DRIFT_PREFIX) :]
    if kind == "drift" and data.get("drifted"):
        features = ", ".join(map(str, data["drifted"]))
        await lifecycle.raise_alert(
            f"builtin:model_drift:{model}", "model_drift", "warning",
            f"Model {model} drifted on {features}", labels={"model": model},
        )  # fmt: skip


def _handler(channel: str) -> Handler:
    if channel == "risk:alerts":
        return _risk
    if channel.startswith("system:feed:"):
        return _feed
    return _drift


async def _channels() -> list[str]:
    stream_prefix = key("stream", "")
    found = [
        name.decode()[len(stream_prefix) :]
        async for name in current_redis().scan_iter(match=f"{stream_prefix}{DRIFT_PREFIX}*")
    ]
    return [*FIXED_CHANNELS, *sorted(found)]


async def _read(channel: str, first_run: bool) -> int:
    """Handle ``channel``'s events after its cursor. The first run ever starts at the present;
    a channel that appears later (a new model's drift) is read from its start."""
    bus, redis = events.current_bus(), current_redis()
    cursor_key = key("alerts", "cursor", channel)
    raw = await redis.get(cursor_key)
    last = await bus.last_seq(channel)
    if raw is None and first_run:
        await redis.set(cursor_key, last)
        return 0
    raw = raw if raw is not None else b"0"
    if int(raw) == last:
        return 0
    envelopes = await bus.replay(channel, int(raw))
    if envelopes is None:  # history trimmed, or Redis restarted: go on from the present
        await redis.set(cursor_key, last)
        return 0
    handled = 0
    for text in envelopes:
        envelope = json.loads(text)
        if not str(envelope["type"]).startswith("alert."):  # not this plugin's own
            await _handler(channel)(channel, envelope["type"], envelope.get("data") or {})
            handled += 1
        await redis.set(cursor_key, envelope["seq"])
    return handled


async def watch_events() -> int:
    """Handle the events published since the last run; returns how many were handled."""
    marker = key("alerts", "watching")
    first_run = not await current_redis().exists(marker)
    handled = 0
    for channel in await _channels():
        try:
            handled += await _read(channel, first_run)
        except Exception:
            log.exception("alerts: could not read the events of %s", channel)
    await current_redis().set(marker, "1")
    return handled


async def watch_worker(host: Any, every: float = 5.0) -> None:
    """In a web process: raise ``worker down`` when no worker reported for a while."""
    down_since: float | None = None
    while True:
        await asyncio.sleep(every)
        try:
            queue = host.queue
            if queue is None:
                continue
            healthy = bool(await queue.worker_health()) or bool(await queue.workers_starting())
            if healthy:
                down_since = None
                await lifecycle.resolve_fingerprint("builtin:worker_down", "system")
                continue
            down_since = down_since or time.monotonic()
            limit = settings_of(AlertsSettings).worker_down_after_seconds
            if time.monotonic() - down_since >= limit:
                await lifecycle.raise_alert(
                    "builtin:worker_down", "worker", "critical",
                    f"No worker has reported for {int(time.monotonic() - down_since)} s",
                )  # fmt: skip
        except Exception:
            log.warning("alerts: the worker watchdog could not check", exc_info=True)
