"""The regime plugin's domain logic behind the routes: the current regime, its history,
``analyze``, the model catalogue and the per-regime metrics of a backtest. No HTTP here."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import datetime, timedelta
from typing import Any

from quarkbot.errors import Conflict, Invalid, NotFound
from quarkbot.plugin_settings import settings_of
from quarkbot.types import TIMEFRAME_SECONDS, as_utc, iso_utc, utc_now
from quarkbot_plugins.regime import core, params, perf, registry, series
from quarkbot_plugins.regime.models import RegimeFit, RegimeReading, RegimeTransition
from quarkbot_plugins.regime.settings import RegimeSettings


def default_pair() -> tuple[str | None, str]:
    watch = settings_of(RegimeSettings).watch
    if watch:
        symbol, _, timeframe = watch[0].partition(":")
        return symbol, timeframe or "1d"
    return None, "1d"


async def current(symbol: str | None, timeframe: str | None) -> dict[str, Any]:
    query = RegimeReading.all()
    if symbol is not None:
        await series.known_symbol(symbol)
        query = query.filter(symbol=symbol)
    if timeframe is not None:
        query = query.filter(timeframe=timeframe)
    reading = await query.order_by("-ts", "-id").first()
    if reading is None:
        raise NotFound("No regime reading yet", code="NO_REGIME_READING")
    return {
        **reading_out(reading),
        "parameters": asdict(await params.get(reading.regime)),
    }


def reading_out(r: RegimeReading) -> dict[str, Any]:
    return {
        "symbol": r.symbol,
        "timeframe": r.timeframe,
        "regime": r.regime,
        "confidence": r.confidence,
        "probabilities": r.probabilities,
        "features": r.features,
        "model": r.model,
        "model_version": r.model_version,
        "fitted_through": r.fitted_through,
        "timestamp": r.ts,
    }


async def history(
    symbol: str | None, timeframe: str | None, start: datetime, end: datetime
) -> dict[str, Any]:
    """Regime segments overlapping ``[start, end)``: each transition starts one, the next ends
    it (the open one has ``end_time`` None)."""
    fallback_symbol, fallback_tf = default_pair()
    symbol, timeframe = symbol or fallback_symbol, timeframe or fallback_tf
    if symbol is None:
        raise Invalid.at(["query", "symbol"], "symbol is required (no watched pair to default to)")
    await series.known_symbol(symbol)
    pair = RegimeTransition.filter(symbol=symbol, timeframe=timeframe)
    before = await pair.filter(ts__lt=start).order_by("-ts").first()
    rows = await pair.filter(ts__gte=start, ts__lt=end).order_by("ts")
    rows = ([before] if before is not None else []) + list(rows)
    after = await pair.filter(ts__gte=end).order_by("ts").first()
    # the last segment ends at the next transition; with no segment there is nothing to end
    last_end = [after.ts if after is not None else None] if rows else []
    ends = [r.ts for r in rows[1:]] + last_end
    return {
        "symbol": symbol,
        "timeframe": timeframe,
        "regimes": [
            {"regime": r.to_regime, "confidence": r.confidence, "start_time": r.ts,
             "end_time": e, "model_version": r.model_version}
            for r, e in zip(rows, ends, strict=True)
        ],
    }  # fmt: skip


def lookback_bars(lookback_hours: float, timeframe: str) -> int:
    return int(lookback_hours * 3600 // TIMEFRAME_SECONDS[timeframe])


def check_lookback(lookback_hours: float, timeframe: str) -> int:
    """The bars of the lookback; 422 with the minimum when it is too short to read."""
    bars = lookback_bars(lookback_hours, timeframe)
    minimum = settings_of(RegimeSettings).rule_window + 1
    if bars < minimum:
        hours = minimum * TIMEFRAME_SECONDS[timeframe] / 3600
        raise Invalid(
            [{"loc": ["body", "market_data", "lookback_hours"],
              "msg": f"too short: at least {hours:g} hours ({minimum} {timeframe} bars)",
              "type": "value_error"}],
            minimum_bars=minimum, minimum_hours=hours,
        )  # fmt: skip
    return bars


async def analyze(symbol: str, timeframe: str, bars: int) -> dict[str, Any]:
    """The regime of the last ``bars`` stored bars: the current fit's filter over them (from its
    initial probabilities), else the rule classifier."""
    settings = settings_of(RegimeSettings)
    s = await series.load(symbol, timeframe, limit=bars)
    minimum = settings.rule_window + 1
    if len(s) < minimum:
        raise Conflict(f"{len(s)} {timeframe} bars of {symbol}; at least {minimum} are needed",
                       code="INSUFFICIENT_MARKET_DATA", minimum_bars=minimum)  # fmt: skip
    cfg = settings.rules()
    cfg = replace(cfg, trend_window=min(cfg.trend_window, len(s) - 1))
    feats = core.features_series(s.closes, s.volumes, cfg, series.ppy(timeframe))
    fit = await _fit_through(symbol, timeframe, s.ts[-1]) if settings.model != "rules" else None
    custom = await registry.custom(settings.model)
    _offset, probs = (
        registry.filtered(fit.model, fit.params, custom, s.closes, s.volumes) if fit else (0, [])
    )
    if fit is not None and probs:
        reading = core.label_reading(probs[-1], fit.labels, feats[-1])
        model, version, through = fit.model, f"{fit.model}-v{fit.version}", fit.fitted_through
    else:
        reading = core.classify(feats[-1], cfg)
        model, version, through = "rules", series.RULES_VERSION, None
    f = reading.features
    return {
        "symbol": symbol, "timeframe": timeframe, "bars": len(s),
        "regime": reading.regime, "confidence": reading.confidence,
        "probabilities": reading.probabilities,
        "features": {"volatility": f.volatility, "trend_strength": f.trend_strength,
                     "volume_ratio": f.volume_ratio},
        "model": model, "model_version": version, "fitted_through": through,
        "timestamp": s.ts[-1],
    }  # fmt: skip


async def _fit_through(symbol: str, timeframe: str, ts: datetime) -> RegimeFit | None:
    return (
        await RegimeFit.filter(
            symbol=symbol,
            timeframe=timeframe,
            model=settings_of(RegimeSettings).model,
            fitted_through__lte=ts,
        )
        .order_by("-fitted_through")
        .first()
    )


async def models() -> dict[str, Any]:
    """The registered regime models and the latest fit of each pair."""
    registered = await registry.registered()
    latest: dict[tuple[str, str], RegimeFit] = {}
    for fit in await RegimeFit.all().order_by("version"):
        latest[(fit.symbol, fit.timeframe)] = fit
    return {
        "active": settings_of(RegimeSettings).model,
        "models": [
            {"name": m["name"], "kind": m.get("kind", "plugin"), "description": m["description"]}
            for m in registered
        ],
        "fits": [_fit_out(f) for f in latest.values()],
    }


def _fit_out(f: RegimeFit) -> dict[str, Any]:
    return {
        "symbol": f.symbol,
        "timeframe": f.timeframe,
        "model_version": f"{f.model}-v{f.version}",
        "k_regimes": f.k_regimes,
        "labels": f.labels,
        "data_start": f.data_start,
        "fitted_through": f.fitted_through,
        "n_obs": f.n_obs,
        "converged": f.converged,
    }


def window(
    hours: float | None, start: datetime | None, end: datetime | None
) -> tuple[datetime, datetime]:
    end = as_utc(end) if end is not None else utc_now() + timedelta(seconds=1)
    if start is not None:
        return as_utc(start), end
    return end - timedelta(hours=hours if hours is not None else 24), end


async def backtest_regimes(backtest: Any) -> dict[str, Any]:
    """Per-regime metrics of a finished backtest, from the stored readings of its first symbol
    (trades: of their own symbol) over the backtest's period."""
    if backtest.status != "complete" or not backtest.equity:
        raise Conflict(f"Backtest {backtest.id} is {backtest.status}", code="BACKTEST_NOT_COMPLETE")
    lookups = {}
    for symbol in backtest.symbols:
        rows = (
            await RegimeReading.filter(
                symbol=symbol, timeframe=backtest.timeframe, ts__lt=backtest.end
            )
            .order_by("ts")
            .values_list("ts", "regime")
        )
        lookups[symbol] = perf.regime_lookup([(as_utc(ts), r) for ts, r in rows])
    first = lookups[backtest.symbols[0]]
    equity = [
        (_parse(p["ts"]), float(p["value"])) for p in backtest.equity if p["value"] is not None
    ]
    trades = backtest.trades or []
    per = perf.per_regime(equity, [], first, series.ppy(backtest.timeframe))
    for t in trades:
        regime = lookups.get(t["symbol"], first)(_parse(t["entry_time"]))
        per.setdefault(regime, {**perf.bucket_metrics([], 1.0), "trades": 0})["trades"] += 1
    return {"backtest_id": backtest.id, "total_trades": len(trades), "regimes": per}


async def backtest_sections(backtest: Any) -> dict[str, Any] | None:
    """``by_regime`` for the backtest's own detail and report (``backtest_report_sections``):
    None until it is complete or while its first symbol has no reading over its period."""
    if backtest.status != "complete" or not backtest.equity or not backtest.symbols:
        return None
    read = RegimeReading.filter(
        symbol=backtest.symbols[0], timeframe=backtest.timeframe, ts__lt=backtest.end
    )
    if not await read.exists():
        return None
    return {"by_regime": (await backtest_regimes(backtest))["regimes"]}


def _parse(text: str) -> datetime:
    return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))


def jsonable(value: Any) -> Any:
    """A result with datetimes as ISO text (a job's stored result)."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return iso_utc(value)
    return value
