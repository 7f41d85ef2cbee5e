"""The evaluation: readings of the bars not read yet, their transitions, and each transition
published once on ``regime:changes``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from quarkbot import events, hooks
from quarkbot.plugin_settings import settings_of
from quarkbot.types import as_utc, iso_utc, utc_now
from quarkbot_plugins.regime import gate_version, registry, series
from quarkbot_plugins.regime.models import RegimeReading, RegimeTransition
from quarkbot_plugins.regime.settings import RegimeSettings

CHANNEL = "regime:changes"


async def last_reading(symbol: str, timeframe: str) -> RegimeReading | None:
    return await RegimeReading.filter(symbol=symbol, timeframe=timeframe).order_by("-ts").first()


async def evaluate(symbol: str, timeframe: str, publish: bool = True) -> dict[str, Any]:
    """Read every bar after the last reading; store readings and transitions (unique per bar,
    so a rerun stores nothing) and publish the transitions not published yet. With
    ``publish=False`` (a historical backfill) transitions are stored as already published."""
    last = await last_reading(symbol, timeframe)
    s = await series.load(symbol, timeframe)
    fits = await series.fits_of(symbol, timeframe)
    custom = await registry.custom(settings_of(RegimeSettings).model)
    new = series.readings(s, fits, as_utc(last.ts) if last else None, custom)
    await RegimeReading.bulk_create(
        [_reading_row(symbol, timeframe, r) for r in new], ignore_conflicts=True
    )
    if new:
        await gate_version.changed()
    changes = _transitions(symbol, timeframe, last.regime if last else None, new, publish)
    await RegimeTransition.bulk_create(changes, ignore_conflicts=True)
    published = await publish_pending(symbol, timeframe) if publish else 0
    return {
        "symbol": symbol,
        "timeframe": timeframe,
        "readings": len(new),
        "changes": len(changes),
        "published": published,
    }


def _reading_row(symbol: str, timeframe: str, r: series.Stamped) -> RegimeReading:
    f = r.reading.features
    return RegimeReading(
        symbol=symbol,
        timeframe=timeframe,
        ts=r.ts,
        regime=r.reading.regime,
        confidence=r.reading.confidence,
        probabilities=r.reading.probabilities,
        features={
            "volatility": f.volatility,
            "trend_strength": f.trend_strength,
            "volume_ratio": f.volume_ratio,
            "volatility_percentile": f.volatility_percentile,
        },
        model=r.model,
        model_version=r.model_version,
        fitted_through=r.fitted_through,
    )


def _transitions(
    symbol: str, timeframe: str, previous: str | None, new: list[series.Stamped], publish: bool
) -> list[RegimeTransition]:
    out = []
    for r in new:
        if r.reading.regime != previous:
            out.append(
                RegimeTransition(
                    symbol=symbol,
                    timeframe=timeframe,
                    ts=r.ts,
                    from_regime=previous,
                    to_regime=r.reading.regime,
                    confidence=r.reading.confidence,
                    model_version=r.model_version,
                    published_at=None if publish else utc_now(),
                )
            )
            previous = r.reading.regime
    return out


async def publish_pending(symbol: str, timeframe: str) -> int:
    """Publish each unpublished transition once: the claim (``published_at`` set where null)
    and the publish share a transaction, so a failed publish is retried by the next run and a
    concurrent run finds the claim taken."""
    pending = await RegimeTransition.filter(
        symbol=symbol, timeframe=timeframe, published_at__isnull=True
    ).order_by("ts")
    count = 0
    for row in pending:
        async with in_transaction():
            claimed = await RegimeTransition.filter(id=row.id, published_at__isnull=True).update(
                published_at=utc_now()
            )
            if not claimed:
                continue
            await events.publish(CHANNEL, "change", change_event(row))
        count += 1
        _count_change(row.to_regime)
        await alert_on_high_vol(row)
    return count


async def alert_on_high_vol(row: RegimeTransition) -> None:
    """Entering HIGH_VOL raises a warning through the alerts plugin (when it is loaded);
    leaving it resolves that alert."""
    if not any(p.name == "alerts" for p in hooks.current_manager().plugins()):
        return
    from quarkbot_plugins.alerts import api as alerts

    fingerprint = f"regime:{row.symbol}:{row.timeframe}:HIGH_VOL"
    if row.to_regime == "HIGH_VOL":
        message = f"{row.symbol} ({row.timeframe}) entered HIGH_VOL at {iso_utc(row.ts)}"
        labels = {"symbol": row.symbol, "timeframe": row.timeframe}
        await alerts.raise_alert(fingerprint, "regime", "warning", message, labels=labels,
                                 value=row.confidence)  # fmt: skip
    elif row.from_regime == "HIGH_VOL":
        await alerts.resolve_alert(fingerprint, "regime")


def change_event(row: RegimeTransition) -> dict[str, Any]:
    return {
        "symbol": row.symbol,
        "timeframe": row.timeframe,
        "ts": iso_utc(row.ts),
        "from_regime": row.from_regime,
        "regime": row.to_regime,
        "confidence": row.confidence,
        "model_version": row.model_version,
    }


def _count_change(regime: str) -> None:
    from quarkbot_plugins.regime.telemetry import count_change

    count_change(regime)


async def readings_between(
    symbol: str, timeframe: str, start: datetime, end: datetime
) -> list[RegimeReading]:
    return await RegimeReading.filter(
        symbol=symbol, timeframe=timeframe, ts__gte=start, ts__lt=end
    ).order_by("ts")
