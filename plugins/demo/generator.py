"""The demo's market, generated here, deterministically (no data file is copied in).

- :func:`daily_bars`: six years of daily OHLCV per instrument (2019-2024): regimes that trend
  up and down, volatility that clusters (GARCH(1,1)), a market factor shared by every
  instrument, and a crash in February-March 2020 followed by a rebound. The same code always
  gives the same bars.
- :func:`live_price`: the price of an instrument at any second once the demo runs: a cycle of a
  few minutes on a slow wander, with a little noise per second. Quotes sample it; minute bars
  summarise it, so quotes and bars agree. The cycle of each traded instrument is placed (from
  ``anchor``, the minute the demo started) so that the demo strategy's fast moving average
  crosses above its slow one on the first minutes and every few minutes after.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

HISTORY_START = date(2019, 1, 1)
HISTORY_END = date(2024, 12, 31)
CRASH_START = date(2020, 2, 20)
CRASH_DAYS = 25  # calendar days of falling prices
REBOUND_DAYS = 120
SEED = "quarkbot-demo"

#: the live cycle: period (minutes) and amplitude; the demo strategy's SMA(2) crosses above its
#: SMA(3) once per period, ENTRY_OFFSET minutes after the cycle's phase origin
CYCLE_MINUTES = 6
CYCLE_AMPLITUDE = 0.004
MICRO_NOISE = 0.00015


@dataclass(frozen=True)
class DemoInstrument:
    symbol: str
    kind: str
    base_currency: str
    quote_currency: str
    name: str
    sector: str | None
    tick_size: Decimal
    lot_size: Decimal
    start_price: float
    annual_vol: float
    beta: float  # exposure to the market factor
    weekends: bool  # trades on Saturdays and Sundays
    growth: float = 0.0  # log growth per year over the history
    entry_minute: int | None = None  # minute (mod CYCLE_MINUTES) of live entries; None: untraded
    max_leverage: int = 1
    underlying: str | None = None  # a perpetual follows its underlying's prices

    def instrument_body(self) -> dict[str, object]:
        """The body of ``POST /api/v1/instruments``."""
        body: dict[str, object] = {
            "symbol": self.symbol,
            "kind": self.kind,
            "base_currency": self.base_currency,
            "quote_currency": self.quote_currency,
            "name": self.name,
            "tick_size": str(self.tick_size),
            "lot_size": str(self.lot_size),
            "max_leverage": self.max_leverage,
        }
        if self.sector:
            body["sector"] = self.sector
        return body


def _d(text: str) -> Decimal:
    return Decimal(text)


INSTRUMENTS: tuple[DemoInstrument, ...] = (
    DemoInstrument(
        "ACME",
        "spot",
        "ACME",
        "USD",
        "Acme Corporation (demo)",
        "Technology",
        _d("0.01"),
        _d("1"),
        142.0,
        0.32,
        1.2,
        False,
        growth=0.14,
        entry_minute=0,
    ),
    DemoInstrument(
        "GLOBEX",
        "spot",
        "GLOBEX",
        "USD",
        "Globex Industries (demo)",
        "Industrials",
        _d("0.01"),
        _d("1"),
        58.0,
        0.26,
        0.9,
        False,
        growth=0.04,
        entry_minute=1,
    ),
    DemoInstrument(
        "INITECH",
        "spot",
        "INITECH",
        "USD",
        "Initech Financial (demo)",
        "Financials",
        _d("0.01"),
        _d("1"),
        231.0,
        0.22,
        1.0,
        False,
        growth=0.07,
        entry_minute=3,
    ),
    DemoInstrument(
        "BTC-USD",
        "spot",
        "BTC",
        "USD",
        "Bitcoin spot (demo)",
        None,
        _d("0.01"),
        _d("0.0001"),
        3700.0,
        0.75,
        1.6,
        True,
        growth=0.4,
    ),
    DemoInstrument(
        "BTC-PERP",
        "perpetual",
        "BTC",
        "USD",
        "Bitcoin perpetual (demo)",
        None,
        _d("0.5"),
        _d("0.001"),
        3700.0,
        0.75,
        1.6,
        True,
        max_leverage=10,
        underlying="BTC-USD",
    ),
    DemoInstrument(
        "EUR-USD",
        "spot",
        "EUR",
        "USD",
        "Euro / US dollar (demo)",
        None,
        _d("0.00001"),
        _d("1000"),
        1.145,
        0.07,
        0.1,
        False,
        growth=-0.02,
    ),
)
BY_SYMBOL = {instrument.symbol: instrument for instrument in INSTRUMENTS}
TRADED = tuple(i.symbol for i in INSTRUMENTS if i.entry_minute is not None)


@dataclass(frozen=True)
class DailyBar:
    day: date
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


def on_tick(value: float, tick: Decimal) -> Decimal:
    """``value`` on the instrument's price grid (at least one tick)."""
    steps = (Decimal(repr(value)) / tick).to_integral_value(rounding=ROUND_HALF_EVEN)
    return max(steps, Decimal(1)) * tick


# daily history ----------------------------------------------------------------------------------
def _days() -> list[date]:
    count = (HISTORY_END - HISTORY_START).days + 1
    return [HISTORY_START + timedelta(days=n) for n in range(count)]


def _market_returns() -> list[float]:
    """The market factor's daily log return on every calendar day: regimes, GARCH, the crash."""
    rng = random.Random(f"{SEED}:market")
    daily_vol = 0.16 / math.sqrt(365)
    alpha, beta = 0.08, 0.9
    omega = (1 - alpha - beta) * daily_vol**2
    variance, shock, bull = daily_vol**2, 0.0, True
    returns = []
    for day in _days():
        variance = omega + alpha * shock**2 + beta * variance
        if rng.random() < 1 / 150:
            bull = not bull
        drift = 0.0003 if bull else -0.0004
        since_crash = (day - CRASH_START).days
        if 0 <= since_crash < CRASH_DAYS:
            drift, variance = -0.017, max(variance, (4 * daily_vol) ** 2)
        elif CRASH_DAYS <= since_crash < CRASH_DAYS + REBOUND_DAYS:
            drift = 0.002
        shock = math.sqrt(variance) * rng.gauss(0.0, 1.0)
        returns.append(drift + shock)
    return returns


_MARKET: list[float] = []


def _market() -> list[float]:
    if not _MARKET:
        _MARKET.extend(_market_returns())
    return _MARKET


def _closes(instrument: DemoInstrument, rng: random.Random) -> Iterator[tuple[date, float, float]]:
    """(day, log return, volatility) on each trading day; weekend returns carry to Monday."""
    periods = 365 if instrument.weekends else 252
    daily_vol = instrument.annual_vol / math.sqrt(periods)
    idio_vol = daily_vol * 0.7
    alpha, beta = 0.07, 0.91
    omega = (1 - alpha - beta) * idio_vol**2
    variance, shock, carried = idio_vol**2, 0.0, 0.0
    for day, market in zip(_days(), _market(), strict=True):
        carried += instrument.beta * market
        if not instrument.weekends and day.weekday() >= 5:
            continue
        variance = omega + alpha * shock**2 + beta * variance
        shock = math.sqrt(variance) * rng.gauss(0.0, 1.0)
        yield day, carried + shock, math.sqrt(variance) + abs(instrument.beta) * 0.01
        carried = 0.0


def daily_bars(instrument: DemoInstrument) -> list[DailyBar]:
    """The instrument's daily OHLCV, 2019-2024 (trading days only for equities and FX)."""
    if instrument.underlying is not None:
        return _with_basis(instrument, daily_bars(BY_SYMBOL[instrument.underlying]))
    rng = random.Random(f"{SEED}:{instrument.symbol}")
    days = list(_closes(instrument, rng))
    # the path keeps its shocks, clusters and crash; its overall growth is the instrument's
    years = len(days) / (365 if instrument.weekends else 252)
    excess = sum(r for _day, r, _vol in days) - instrument.growth * years
    tick = instrument.tick_size
    bars, close = [], instrument.start_price
    for day, log_return, vol in days:
        open_ = close * math.exp(0.25 * vol * rng.gauss(0.0, 1.0))
        close = close * math.exp(log_return - excess / len(days))
        high = max(open_, close) * math.exp(abs(rng.gauss(0.0, 0.6)) * vol)
        low = min(open_, close) * math.exp(-abs(rng.gauss(0.0, 0.6)) * vol)
        o, c = on_tick(open_, tick), on_tick(close, tick)
        h, lo = max(on_tick(high, tick), o, c), min(on_tick(low, tick), o, c)
        activity = 1.0 + min(abs(log_return) / max(vol, 1e-9), 4.0)
        volume = 1e6 * activity * math.exp(0.3 * rng.gauss(0.0, 1.0)) / instrument.start_price
        bars.append(DailyBar(day, o, h, lo, c, Decimal(f"{volume:.4f}")))
    return bars


def _with_basis(instrument: DemoInstrument, spot: list[DailyBar]) -> list[DailyBar]:
    """A perpetual's bars: its underlying's times a small, slowly changing basis."""
    tick = instrument.tick_size
    bars = []
    for n, bar in enumerate(spot):
        basis = 1.0 + 0.0015 * math.sin(n / 23) + 0.0005 * _noise(instrument.symbol, n)
        o, c = on_tick(float(bar.open) * basis, tick), on_tick(float(bar.close) * basis, tick)
        h = max(on_tick(float(bar.high) * basis, tick), o, c)
        lo = min(on_tick(float(bar.low) * basis, tick), o, c)
        bars.append(DailyBar(bar.day, o, h, lo, c, bar.volume * 3))
    return bars


def daily_csv(instrument: DemoInstrument) -> str:
    """The daily bars as the CSV that ``POST /api/v1/market-data/{symbol}/bars`` takes."""
    lines = ["Date,Open,High,Low,Close,Volume"]
    lines += [
        f"{b.day.isoformat()},{b.open},{b.high},{b.low},{b.close},{b.volume}"
        for b in daily_bars(instrument)
    ]
    return "\n".join(lines) + "\n"


# live prices ------------------------------------------------------------------------------------
def _noise(symbol: str, second: int) -> float:
    """A standard normal value, the same for the same symbol and second."""
    digest = hashlib.blake2b(f"{symbol}:{second}".encode(), digest_size=16).digest()
    u1 = (int.from_bytes(digest[:8], "big") + 1) / 2**64
    u2 = int.from_bytes(digest[8:], "big") / 2**64
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def live_base(instrument: DemoInstrument) -> float:
    """Where the live price starts: the last daily close."""
    return float(daily_bars(instrument)[-1].close)


def live_price(instrument: DemoInstrument, base: float, anchor: int, second: int) -> float:
    """The price at ``second`` (Unix time) of a demo started in minute ``anchor``."""
    minutes = second / 60.0 - anchor
    index = INSTRUMENTS.index(instrument)
    entry = instrument.entry_minute if instrument.entry_minute is not None else index
    # the cycle's phase: SMA(2) crosses above SMA(3) on the bar of minute `entry` (mod period)
    phase = 2 * math.pi * (minutes - entry - 0.75) / CYCLE_MINUTES
    wander = 0.002 * math.sin(2 * math.pi * minutes / 97 + index) + 0.0015 * math.sin(
        2 * math.pi * minutes / 263 + 2 * index
    )
    micro = MICRO_NOISE * _noise(instrument.symbol, second)
    return base * math.exp(CYCLE_AMPLITUDE * math.sin(phase) + wander + micro)


@dataclass(frozen=True)
class MinuteBar:
    ts: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal

    def as_json(self) -> dict[str, str]:
        return {
            "ts": self.ts.isoformat(),
            "open": str(self.open),
            "high": str(self.high),
            "low": str(self.low),
            "close": str(self.close),
            "volume": str(self.volume),
        }


def minute_bar(instrument: DemoInstrument, base: float, anchor: int, minute: int) -> MinuteBar:
    """The bar of minute ``minute`` (Unix minutes): its 60 one-second prices summarised."""
    prices = [live_price(instrument, base, anchor, minute * 60 + s) for s in range(60)]
    tick = instrument.tick_size
    o, c = on_tick(prices[0], tick), on_tick(prices[-1], tick)
    h = max(on_tick(max(prices), tick), o, c)
    lo = min(on_tick(min(prices), tick), o, c)
    volume = Decimal(round(1000 + 500 * abs(_noise(instrument.symbol, -minute)), 0))
    return MinuteBar(datetime.fromtimestamp(minute * 60, UTC), o, h, lo, c, volume)
