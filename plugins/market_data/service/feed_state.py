"""The live feed's state in Redis: what was asked (desired) and what a worker does (actual).

``POST /api/v1/market-data/feed`` writes the desired state with a version; the leader worker
follows it and writes the actual state as a heartbeat with a TTL, so a dead leader reads as
stopped. Concurrent commands: the highest version wins, whatever order the writes arrive in.
"""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal
from typing import Any

from quarkbot.errors import Invalid, problem
from quarkbot.plugin_settings import settings_of
from quarkbot.redis_conn import current_redis, key
from quarkbot.types import utc_now
from quarkbot_plugins.market_data.schemas import FeedActual, FeedCommand, FeedDesired
from quarkbot_plugins.market_data.service.instruments import known_symbols
from quarkbot_plugins.market_data.settings import MarketDataSettings

FEED_CONNECTED_CHANNEL = "system:feed:connected"
FEED_DISCONNECTED_CHANNEL = "system:feed:disconnected"
#: what a start command sets and a stop command keeps
FEED_PARAMETERS = ("symbols", "source", "speed", "spread_bps", "seed", "timeframe")

_SET_IF_NEWER_LUA = """
local current = redis.call('GET', KEYS[1])
if current then
  local stored = cjson.decode(current)['version']
  if stored and tonumber(stored) > tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
"""


def _feed_key(name: str) -> str:
    return key("market_data", "feed", name)


def leader_key() -> str:
    return key("market_data", "feed-leader")


# desired ----------------------------------------------------------------------------------------
async def get_desired() -> FeedDesired | None:
    raw = await current_redis().get(_feed_key("desired"))
    return FeedDesired.model_validate_json(raw) if raw else None


async def command_feed(command: FeedCommand, *, user: str, sources: Collection[str]) -> FeedDesired:
    """Check a command (known ``source`` and symbols) and store it with the settings' defaults."""
    if command.action == "start":
        await _check_start(command, sources)
    settings = settings_of(MarketDataSettings)
    return await set_desired(
        command,
        user=user,
        default_speed=settings.default_speed,
        default_spread_bps=settings.default_spread_bps,
    )


async def _check_start(command: FeedCommand, sources: Collection[str]) -> None:
    problems = []
    if command.source not in sources:
        problems.append(
            problem(
                ["body", "source"],
                f"no market-data source named {command.source!r}",
                "unknown_source",
            )
        )
    known = await known_symbols(command.symbols)
    problems += [
        problem(["body", "symbols", index], f"unknown instrument {symbol!r}", "unknown_instrument")
        for index, symbol in enumerate(command.symbols)
        if symbol not in known
    ]
    if problems:
        raise Invalid(problems)


async def set_desired(
    command: FeedCommand, *, user: str, default_speed: float, default_spread_bps: Decimal
) -> FeedDesired:
    """Store the desired feed state; the leader worker follows it within a poll interval.

    ``stop`` keeps the parameters of the last command (so ``GET`` shows what was stopped).
    """
    redis = current_redis()
    previous = await get_desired()
    version = int(await redis.incr(_feed_key("version")))
    if command.action == "stop":
        params = _parameters_kept(previous, command, default_speed, default_spread_bps)
    else:
        params = _parameters_asked(command, default_speed, default_spread_bps)
    desired = FeedDesired(
        running=command.action == "start",
        **params,
        version=version,
        updated_at=utc_now(),
        updated_by=user,
    )
    store = redis.register_script(_SET_IF_NEWER_LUA)
    await store(keys=[_feed_key("desired")], args=[desired.model_dump_json(), version])
    return desired


def _parameters_asked(
    command: FeedCommand, default_speed: float, default_spread_bps: Decimal
) -> dict[str, Any]:
    return {
        "symbols": list(command.symbols),
        "source": command.source,
        "speed": command.speed if command.speed is not None else default_speed,
        "spread_bps": (
            command.spread_bps if command.spread_bps is not None else default_spread_bps
        ),
        "seed": command.seed,
        "timeframe": command.timeframe,
    }


def _parameters_kept(
    previous: FeedDesired | None,
    command: FeedCommand,
    default_speed: float,
    default_spread_bps: Decimal,
) -> dict[str, Any]:
    if previous is None:
        return {
            "symbols": [],
            "source": command.source,
            "speed": default_speed,
            "spread_bps": default_spread_bps,
            "seed": None,
            "timeframe": None,
        }
    return {name: getattr(previous, name) for name in FEED_PARAMETERS}


# actual -----------------------------------------------------------------------------------------
async def get_actual() -> FeedActual:
    raw = await current_redis().get(_feed_key("actual"))
    return FeedActual.model_validate_json(raw) if raw else FeedActual(running=False)


async def put_actual(actual: FeedActual, ttl_seconds: float) -> None:
    """The leader's heartbeat: expires unless renewed, so a dead leader reads as stopped."""
    await current_redis().set(
        _feed_key("actual"), actual.model_dump_json(), px=max(1, int(ttl_seconds * 1000))
    )


async def clear_actual() -> None:
    await current_redis().delete(_feed_key("actual"))


async def feed_health() -> dict[str, Any]:
    """The ``health`` hook's view: only while the feed is supposed to run (an idle feed
    degrades nothing)."""
    desired = await get_desired()
    if desired is None or not desired.running:
        return {}
    actual = await get_actual()
    if actual.running and actual.version == desired.version:
        return {"market_data_feed": {"status": "ok", "source": actual.source}}
    error = actual.error or "no worker runs the requested feed"
    return {"market_data_feed": {"status": "down", "error": error}}
