"""Bars in, readings out: a (symbol, timeframe)'s bars as plain lists and the causal reading of
every bar, each from the model version that was fitted through that bar or earlier."""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from quarkbot.errors import Conflict, NotFound
from quarkbot.plugin_settings import settings_of
from quarkbot.types import TIMEFRAME_SECONDS, as_utc
from quarkbot_plugins.market_data import api as market_data
from quarkbot_plugins.regime import core, registry
from quarkbot_plugins.regime.models import RegimeFit
from quarkbot_plugins.regime.settings import RegimeSettings

RULES_VERSION = "rules-1"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FAR = datetime(9999, 1, 1, tzinfo=UTC)


@dataclass
class Series:
    symbol: str
    timeframe: str
    ts: list[datetime]
    closes: list[float]
    volumes: list[float]

    def __len__(self) -> int:
        return len(self.ts)


@dataclass
class Stamped:
    """A reading at bar ``ts`` and where it came from."""

    ts: datetime
    reading: core.Reading
    model: str
    model_version: str
    fitted_through: datetime | None


def ppy(timeframe: str) -> float:
    return core.periods_per_year(
        TIMEFRAME_SECONDS[timeframe], settings_of(RegimeSettings).trading_days
    )


async def known_symbol(symbol: str) -> None:
    if await market_data.get_instrument(symbol) is None:
        raise NotFound(f"Unknown symbol {symbol!r}", code="UNKNOWN_SYMBOL")


async def load(
    symbol: str,
    timeframe: str,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int | None = None,
) -> Series:
    """Bars with ``start <= ts < end`` (the last ``limit`` when ``start`` is None); 404 for an
    unknown symbol, 409 ``NO_MARKET_DATA`` when there are none."""
    await known_symbol(symbol)
    cap = limit or settings_of(RegimeSettings).max_bars
    if start is None:
        rows = await _last_rows(symbol, timeframe, cap, end or FAR)
    else:
        raw = await market_data.bar_rows(symbol, timeframe, start, end or FAR, cap)
        rows = [(r[0], r[4], r[5]) for r in raw]
    if not rows:
        raise Conflict(f"No {timeframe} bars of {symbol} in the window", code="NO_MARKET_DATA")
    return Series(
        symbol,
        timeframe,
        [as_utc(r[0]) for r in rows],
        [float(r[1]) for r in rows],
        [float(r[2] or 0) for r in rows],
    )


async def _last_rows(
    symbol: str, timeframe: str, n: int, end: datetime
) -> list[tuple[datetime, Any, Any]]:
    """The last ``n`` bars before ``end`` as (ts, close, volume), read as raw rows (no model
    objects): a window back from the last bar, doubled until it holds ``n`` (or all) bars."""
    want = min(n, await market_data.count_bars(symbol, timeframe, EPOCH, end))
    if want == 0:
        return []
    last = (await market_data.recent_bars(symbol, timeframe, 1, until=end))[-1].ts
    span = timedelta(seconds=TIMEFRAME_SECONDS[timeframe] * want * 1.5)
    while True:
        start = max(EPOCH, last - span)
        inside = await market_data.count_bars(symbol, timeframe, start, end)
        if inside >= want or start == EPOCH:
            raw = await market_data.bar_rows(symbol, timeframe, start, end, inside)
            return [(r[0], r[4], r[5]) for r in raw[-want:]]
        span *= 2


def _fit_for(fits: Sequence[RegimeFit], through: list[datetime], ts: datetime) -> RegimeFit | None:
    """The latest fit whose data ends at or before ``ts`` (never one that saw later bars)."""
    i = bisect.bisect_right(through, ts)
    return fits[i - 1] if i else None


def readings(
    series: Series,
    fits: Sequence[RegimeFit],
    since: datetime | None,
    custom: Mapping[str, Any] | None = None,
) -> list[Stamped]:
    """The reading of every bar after ``since`` that has one: a fit's filtered probabilities
    (the Markov model's, or the third-party model ``custom``'s) where a fit through that bar
    exists, else the rule classifier (once it has ``min_bars`` bars)."""
    settings = settings_of(RegimeSettings)
    cfg, periods = settings.rules(), ppy(series.timeframe)
    feats = core.features_series(series.closes, series.volumes, cfg, periods)
    fits = sorted(fits, key=lambda f: as_utc(f.fitted_through))
    through = [as_utc(f.fitted_through) for f in fits]
    probs = _filtered_by_fit(series, fits, custom)
    out: list[Stamped] = []
    for t, ts in enumerate(series.ts):
        if since is not None and ts <= since:
            continue
        fit = _fit_for(fits, through, ts) if settings.model != "rules" else None
        if fit is not None and (t, fit.id) in probs:
            reading = core.label_reading(probs[(t, fit.id)], fit.labels, feats[t])
            version = f"{fit.model}-v{fit.version}"
            out.append(Stamped(ts, reading, fit.model, version, as_utc(fit.fitted_through)))
        elif t >= cfg.min_bars:
            out.append(Stamped(ts, core.classify(feats[t], cfg), "rules", RULES_VERSION, None))
    return out


def _filtered_by_fit(
    series: Series, fits: Sequence[RegimeFit], custom: Mapping[str, Any] | None
) -> dict[tuple[int, int], list[float]]:
    """One forward filter per fit, from its first bar through the last bar it is used for."""
    out: dict[tuple[int, int], list[float]] = {}
    for n, fit in enumerate(fits):
        start = bisect.bisect_left(series.ts, as_utc(fit.data_start))
        if start >= len(series) or series.ts[start] != as_utc(fit.data_start):
            continue  # its first bar is not loaded: the filter cannot start where the fit did
        stop = (
            bisect.bisect_left(series.ts, as_utc(fits[n + 1].fitted_through))
            if n + 1 < len(fits)
            else len(series) - 1
        )
        # through bar stop + 1 (the Markov filter's last return ends there)
        window = slice(start, stop + 2)
        offset, filtered = registry.filtered(
            fit.model, fit.params, custom, series.closes[window], series.volumes[window]
        )
        for i, p in enumerate(filtered):
            out[(start + offset + i, fit.id)] = p
    return out


async def fits_of(symbol: str, timeframe: str) -> list[RegimeFit]:
    """The fits of the model chosen (``QUARKBOT_REGIME_MODEL``)."""
    model = settings_of(RegimeSettings).model
    return await RegimeFit.filter(symbol=symbol, timeframe=timeframe, model=model)
