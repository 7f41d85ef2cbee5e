"""The domain layer without HTTP: parsing, validation, sizes, quotes, import and the public api."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from quarkbot.types import format_decimal
from quarkbot_plugins.market_data import api, service
from quarkbot_plugins.market_data.models import BarRecord
from quarkbot_plugins.market_data.schemas import BarIn, InstrumentIn

PERP = api.Instrument(
    symbol="BTC-USD",
    kind="perpetual",
    base_currency="BTC",
    quote_currency="USD",
    name="",
    sector=None,
    tick_size=Decimal("0.5"),
    lot_size=Decimal("0.001"),
    min_notional=Decimal("5"),
    max_leverage=100,
    is_active=True,
)


def test_format_decimal():
    assert format_decimal(Decimal("100.340000000000")) == "100.34"
    assert format_decimal(Decimal("1E+2")) == "100"
    assert format_decimal(Decimal("0E-12")) == "0"
    assert format_decimal(Decimal("0.000000000001")) == "0.000000000001"
    assert format_decimal(Decimal("22351900.000000000000")) == "22351900"


def test_backtesting_btcusd_csv_validates(backtesting_csv):
    text = backtesting_csv("BTCUSD").read_text()
    bars = service.validate_csv(text)
    assert len(bars) == 156
    # 2012-01-31,4.58,7.38,3.8,5.55,2012.25343589 under an unnamed index column
    assert bars[0].ts == datetime(2012, 1, 31, tzinfo=UTC)
    assert (bars[0].open, bars[0].close, bars[0].volume) == (
        Decimal("4.58"),
        Decimal("5.55"),
        Decimal("2012.25343589"),
    )


def test_validator_streams_and_reports_every_problem():
    validator = service.BarValidator()
    good = {"ts": "2024-01-02", "open": "1", "high": "2", "low": "1", "close": "2", "volume": "0"}
    assert validator.check(2, good) is not None
    late = {**good, "ts": "2024-01-02T01:00", "open": "1.0000000000001"}
    assert validator.check(3, late) is None  # 13 decimal places
    assert validator.check(4, {**good, "ts": "2024-01-01", "low": "3"}) is None  # two problems
    assert validator.check(5, "expected 6 cells like the header, found 3") is None
    assert validator.check(6, {**good, "ts": "2024-01-03", "volume": "1e3"}) is not None
    assert [(e.row, e.field, e.type) for e in validator.errors] == [
        (3, "open", "decimal_max_places"),
        (4, "high", "ohlc_range"),
        (4, "ts", "ts_order"),
        (5, None, "csv_row"),
    ]
    assert validator.errors[2].describe() == (
        "line 4, ts: ts 2024-01-01T00:00:00Z is before the ts of row 3 (2024-01-02T01:00:00Z); "
        "timestamps must strictly increase"
    )
    assert validator.rows == 5


def test_check_quantity_and_price():
    api.check_quantity_and_price(PERP, Decimal("0.01"), Decimal("60000.5"))
    api.check_quantity_and_price(PERP, Decimal("0.001"), None)  # market order: no notional check
    api.check_quantity_and_price(PERP, 3, Decimal("2"))

    refusals = [
        (Decimal("0.0015"), Decimal("60000"), "LOT_SIZE", "nearest valid: 0.001 or 0.002"),
        (Decimal("0.0005"), None, "LOT_SIZE", "nearest valid: 0.001"),
        (Decimal("0.01"), Decimal("60000.25"), "TICK_SIZE", "nearest valid: 60000 or 60000.5"),
        (Decimal("0.001"), Decimal("4000"), "MIN_NOTIONAL", "notional 4 (quantity x price)"),
        (Decimal("0"), Decimal("1"), "INVALID_QUANTITY", "positive"),
        (Decimal("-0.001"), Decimal("1"), "INVALID_QUANTITY", "positive"),
        (Decimal("0.001"), Decimal("0"), "INVALID_PRICE", "positive"),
        (Decimal("NaN"), None, "INVALID_QUANTITY", "finite"),
        (Decimal("1E+40"), Decimal("0.5"), None, None),  # huge but valid: no precision error
    ]
    for quantity, price, code, text in refusals:
        if code is None:
            api.check_quantity_and_price(PERP, quantity, price)
            continue
        with pytest.raises(api.InvalidQuantityOrPrice) as excinfo:
            api.check_quantity_and_price(PERP, quantity, price)
        assert excinfo.value.code == code, (quantity, price)
        assert text in str(excinfo.value), str(excinfo.value)
    with pytest.raises(TypeError):
        api.check_quantity_and_price(PERP, 0.1, None)  # type: ignore[arg-type]


def test_make_quote():
    quote = service.make_quote("X", "99.5", Decimal("100.5"), 100)
    assert (quote.bid, quote.ask, quote.last, quote.mid) == (
        Decimal("99.5"),
        Decimal("100.5"),
        Decimal("100"),
        Decimal("100"),
    )
    assert quote.ts.tzinfo is not None
    assert quote.as_json()["mid"] == "100"
    for bid, ask, last in (("101", "100", "100"), ("0", "1", "1"), ("1", "1", "-1")):
        with pytest.raises(ValueError):
            service.make_quote("X", bid, ask, last)
    with pytest.raises(TypeError):
        service.make_quote("X", 1.5, 2, 2)  # type: ignore[arg-type]


def _bars(start: datetime, count: int) -> list[BarIn]:
    return [
        BarIn(
            ts=start + timedelta(minutes=i),
            open=Decimal("1.5"),
            high=Decimal("2"),
            low=Decimal("1"),
            close=Decimal("1.75"),
            volume=Decimal(i),
        )
        for i in range(count)
    ]


async def test_import_bars_queries_and_quotes(app):
    await service.create_instrument(
        InstrumentIn(
            symbol="ETH-USD",
            kind="spot",
            base_currency="ETH",
            quote_currency="USD",
            tick_size=Decimal("0.01"),
            lot_size=Decimal("0.0001"),
        )
    )
    start = datetime(2024, 3, 1, tzinfo=UTC)
    seen: list[int] = []
    result = await service.import_bars(
        "ETH-USD", "1m", iter(_bars(start, 7)), progress=seen.append, chunk_rows=3
    )
    assert (result.received, result.inserted, result.skipped_existing) == (7, 7, 0)
    assert seen == [3, 3, 1]
    assert await BarRecord.filter(symbol="ETH-USD", timeframe="1m").count() == 7

    # overlapping re-import: 7 known + 3 new, across chunk boundaries
    result = await service.import_bars("ETH-USD", "1m", _bars(start, 10), chunk_rows=4)
    assert (result.received, result.inserted, result.skipped_existing) == (10, 3, 7)
    assert await BarRecord.filter(symbol="ETH-USD").count() == 10

    bars = await api.get_bars("ETH-USD", "1m", start=start + timedelta(minutes=2), limit=3)
    assert [bar.ts for bar in bars] == [start + timedelta(minutes=m) for m in (2, 3, 4)]
    assert bars[0] == api.Bar(
        "ETH-USD",
        "1m",
        start + timedelta(minutes=2),
        Decimal("1.5"),
        Decimal("2"),
        Decimal("1"),
        Decimal("1.75"),
        Decimal("2"),
    )
    assert await api.get_bars("ETH-USD", "1m", end=start) == []

    instrument = await api.get_instrument("ETH-USD")
    assert instrument is not None and instrument.lot_size == Decimal("0.0001")
    assert instrument.max_leverage == 1 and instrument.min_notional == 0
    assert await api.get_instrument("NOPE") is None

    with pytest.raises(service.UnknownInstrument):
        await service.import_bars("NOPE", "1m", _bars(start, 1))
    with pytest.raises(ValueError):
        await service.import_bars("ETH-USD", "2m", _bars(start, 1))
    assert await BarRecord.all().count() == 10

    assert await api.latest_quote("ETH-USD") is None
    quote = await api.set_quote("ETH-USD", Decimal("3000.1"), "3000.3", "3000.2")
    assert quote.mid == Decimal("3000.2")
    latest = await api.latest_quote("ETH-USD")
    assert latest == quote
    with pytest.raises(ValueError):
        await api.set_quote("ETH-USD", "2", "1", "1")
    assert await api.latest_quote("ETH-USD") == quote  # unchanged
