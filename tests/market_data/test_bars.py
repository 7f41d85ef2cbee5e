"""Bar import (CSV body, multipart file, JSON) and queries over HTTP, on real historical data."""

import csv
import json
from datetime import UTC, datetime
from decimal import Decimal
from io import BytesIO

from werkzeug.datastructures import FileStorage

from quarkbot_plugins.market_data.models import BarRecord

GOOG_URL = "/api/v1/market-data/GOOG/bars"


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def stored(symbol: str = "GOOG", timeframe: str = "1d") -> list[BarRecord]:
    return list(await BarRecord.filter(symbol=symbol, timeframe=timeframe).order_by("ts"))


def ohlcv(bar: BarRecord) -> tuple[Decimal, ...]:
    return (bar.open, bar.high, bar.low, bar.close, bar.volume)


async def post_csv(client, url: str, text: str | bytes, headers: dict[str, str]):
    data = text.encode() if isinstance(text, str) else text
    return await client.post(
        url, data=data, headers={**headers, "Content-Type": "text/csv; charset=utf-8"}
    )


async def test_goog_daily_csv_import_reimport_and_query(
    client, create_instrument, trader, viewer, backtesting_csv
):
    await create_instrument()
    data = backtesting_csv("GOOG").read_bytes()
    rows = list(csv.reader(data.decode().splitlines()))[1:]
    assert len(rows) == 2148

    response = await post_csv(client, f"{GOOG_URL}?timeframe=1d", data, trader)
    assert response.status_code == 200, await response.get_data(as_text=True)
    assert await response.get_json() == {
        "symbol": "GOOG",
        "timeframe": "1d",
        "received": 2148,
        "inserted": 2148,
        "skipped_existing": 0,
    }
    bars = await stored()
    assert len(bars) == 2148
    # 2004-08-19,100,104.06,95.96,100.34,22351900 (the first row), exactly
    assert bars[0].ts == at(2004, 8, 19)
    assert ohlcv(bars[0]) == tuple(map(Decimal, ("100", "104.06", "95.96", "100.34", "22351900")))
    for index in (1, 1000, 2147):
        day, *values = rows[index][:6]
        assert bars[index].ts == datetime.fromisoformat(day).replace(tzinfo=UTC)
        assert ohlcv(bars[index]) == tuple(Decimal(v) for v in values)

    again = await post_csv(client, f"{GOOG_URL}?timeframe=1d", data, trader)
    assert again.status_code == 200
    body = await again.get_json()
    assert (body["received"], body["inserted"], body["skipped_existing"]) == (2148, 0, 2148)
    assert await BarRecord.all().count() == 2148

    # queries over the imported history
    async def get(query: str) -> dict:
        response = await client.get(f"{GOOG_URL}{query}", headers=viewer)
        assert response.status_code == 200, await response.get_data(as_text=True)
        return await response.get_json()

    page = await get("?timeframe=1d&start=2004-08-20&end=2004-08-25")
    assert [bar["ts"] for bar in page["items"]] == [
        "2004-08-20T00:00:00Z",
        "2004-08-23T00:00:00Z",
        "2004-08-24T00:00:00Z",
    ]
    assert page["next_start"] is None
    assert page["items"][0] == {
        "ts": "2004-08-20T00:00:00Z",
        "open": "101.01",
        "high": "109.08",
        "low": "100.5",
        "close": "108.31",
        "volume": "11428600",
    }
    page = await get("?start=2004-08-20T00:00:00Z&limit=2")
    assert [bar["ts"][:10] for bar in page["items"]] == ["2004-08-20", "2004-08-23"]
    assert page["next_start"] == "2004-08-24T00:00:00Z"

    page = await get("")  # timeframe 1d, limit 1000 by default
    assert len(page["items"]) == 1000 and page["items"][0]["ts"].startswith("2004-08-19")
    stamps = [bar["ts"] for bar in page["items"]]
    assert stamps == sorted(stamps)
    page = await get("?limit=10000")
    assert len(page["items"]) == 2148 and page["next_start"] is None
    assert (await get("?timeframe=1h"))["items"] == []

    for query in ("?limit=0", "?limit=10001", "?timeframe=2d", "?start=yesterday", "?x=1"):
        response = await client.get(f"{GOOG_URL}{query}", headers=viewer)
        assert response.status_code == 422, query
    assert (await client.get("/api/v1/market-data/NOPE/bars", headers=viewer)).status_code == 404
    assert json.loads(json.dumps(page))  # plain JSON


BAD_CSV = """\
Date,Open,High,Low,Close,Adj Close,Volume
2024-01-02,10,11,9,10.5,10.4,1000
2024-01-03,10,9,11,10,10,1000
2024-01-04,10,11,9,NaN,10,1000
2024-01-05,10,11,9,10,10,-5
2024-01-05,10,11,9,10,10,5
2024-01-04 12:00,10,11,9,10,10,5
2024-01-08,10,11,9,,10,5
2024-01-09,12,11,9,10,10,5
2024-01-10,10,11,9,10,10,5
"""


async def test_csv_validation_and_multipart(client, create_instrument, trader, backtesting_csv):
    await create_instrument()
    response = await post_csv(client, f"{GOOG_URL}?timeframe=1d", BAD_CSV, trader)
    assert response.status_code == 422
    detail = (await response.get_json())["detail"]
    problems = {(item["loc"][1], item["loc"][2], item["type"]) for item in detail}
    assert problems == {
        (3, "high", "ohlc_range"),  # high < low
        (4, "close", "finite_number"),  # NaN
        (5, "volume", "greater_than_equal"),  # negative volume
        (6, "ts", "ts_order"),  # the same ts as line 5
        (7, "ts", "ts_order"),  # before line 6
        (8, "close", "missing"),  # empty cell
        (9, "open", "ohlc_range"),  # open above high
    }
    assert all(item["loc"][0] == "body" and item["msg"] for item in detail)
    by_row = {item["loc"][1]: item["msg"] for item in detail}
    assert by_row[3] == "high 9 is below low 11"
    assert "repeats the ts of row 5" in by_row[6]
    assert await BarRecord.all().count() == 0  # lines 2 and 10 were fine: all or nothing

    cases = {
        "Date,Open,High,Low,Volume\n2024-01-02,1,1,1,1\n": [["body", 1, "close"]],
        "When,Open,High,Low,Close,Volume\n2024-01-02,1,1,1,1,1\n": [["body", 1, "ts"]],
        "": [["body"]],
        "Date,Open,High,Low,Close,Volume\n": [["body"]],
        "Date,Open,High,Low,Close,Volume\n2024-01-02,1,1,1\n": [["body", 2]],
    }
    for text, locs in cases.items():
        response = await post_csv(client, f"{GOOG_URL}?timeframe=1d", text, trader)
        assert response.status_code == 422, text
        assert [item["loc"] for item in (await response.get_json())["detail"]] == locs, text
    response = await post_csv(client, f"{GOOG_URL}?timeframe=1d", b"Date,Open\n\xff\xfe", trader)
    assert response.status_code == 422
    assert await BarRecord.all().count() == 0

    text = (
        "timestamp,CLOSE,open,HIGH,low,volume,extra\n"
        "2024-01-02T15:30:00+02:00,10.5,10,11,9,0,x\n"
        "1704295800,10.5,10,11,9,1.25,y\n"
    )
    response = await post_csv(client, f"{GOOG_URL}?timeframe=1m", text, trader)
    assert response.status_code == 200, await response.get_data(as_text=True)
    bars = await stored(timeframe="1m")
    assert [bar.ts for bar in bars] == [at(2024, 1, 2, 13, 30), at(2024, 1, 3, 15, 30)]
    assert ohlcv(bars[1]) == tuple(map(Decimal, ("10", "11", "9", "10.5", "1.25")))

    await create_instrument(
        symbol="EURUSD", base_currency="EUR", quote_currency="USD", tick_size="0.00001"
    )
    upload = FileStorage(
        BytesIO(backtesting_csv("EURUSD").read_bytes()),
        filename="EURUSD.csv",
        content_type="text/csv",
    )
    response = await client.post(
        "/api/v1/market-data/EURUSD/bars?timeframe=1h", files={"file": upload}, headers=trader
    )
    assert response.status_code == 200, await response.get_data(as_text=True)
    body = await response.get_json()
    assert (body["received"], body["inserted"], body["skipped_existing"]) == (5000, 5000, 0)
    bars = await stored("EURUSD", "1h")
    assert len(bars) == 5000
    # 2017-04-19 09:00:00,1.0716,1.0722,1.07083,1.07219,1413
    assert bars[0].ts == at(2017, 4, 19, 9)
    assert ohlcv(bars[0]) == tuple(map(Decimal, ("1.0716", "1.0722", "1.07083", "1.07219", "1413")))
    assert bars[1].ts == at(2017, 4, 19, 10)

    response = await client.post(
        "/api/v1/market-data/EURUSD/bars?timeframe=1h", files={}, form={"x": "1"}, headers=trader
    )
    assert response.status_code == 422
    assert (await response.get_json())["detail"][0]["loc"] == ["body", "file"]


async def test_json_import_and_refusals(app, client, create_instrument, trader, viewer):
    await create_instrument()
    bars = [
        {"ts": "2024-01-02", "open": 0.1, "high": 0.3, "low": 0.1, "close": 0.2, "volume": 10},
        {
            "ts": "2024-01-03T00:00:00Z",
            "open": "0.2",
            "high": "0.2",
            "low": "0.1",
            "close": "0.1",
            "volume": "0",
        },
    ]
    response = await client.post(f"{GOOG_URL}?timeframe=1d", json=bars, headers=trader)
    assert response.status_code == 200, await response.get_data(as_text=True)
    assert (await response.get_json())["inserted"] == 2
    first, second = await stored()
    assert ohlcv(first) == tuple(map(Decimal, ("0.1", "0.3", "0.1", "0.2", "10")))  # no float noise
    assert second.ts == at(2024, 1, 3) and second.volume == 0

    more = [*bars[1:], {**bars[0], "ts": "2024-01-04"}]
    response = await client.post(f"{GOOG_URL}?timeframe=1d", json=more, headers=trader)
    body = await response.get_json()
    assert (body["received"], body["inserted"], body["skipped_existing"]) == (2, 1, 1)
    assert len(await stored()) == 3

    bad = [
        {**bars[0], "ts": "2024-02-01", "colour": "red"},
        {"ts": "2024-02-02", "open": 1, "high": 1, "low": 1, "close": 1},
        {**bars[0], "ts": "2024-02-03", "high": 0.05},
        "not a bar",
    ]
    response = await client.post(f"{GOOG_URL}?timeframe=1d", json=bad, headers=trader)
    assert response.status_code == 422
    locs = [item["loc"] for item in (await response.get_json())["detail"]]
    assert locs == [["body", 0, "colour"], ["body", 1, "volume"], ["body", 2, "high"], ["body", 3]]
    response = await client.post(f"{GOOG_URL}?timeframe=1d", json={"ts": 1}, headers=trader)
    assert response.status_code == 422
    for body in (b"[{", b"\xff\xfe\x00", b""):
        response = await client.post(
            f"{GOOG_URL}?timeframe=1d",
            data=body,
            headers={**trader, "Content-Type": "application/json"},
        )
        assert response.status_code == 400, body
        assert await response.get_json() == {"detail": "Malformed JSON body"}
    assert len(await stored()) == 3

    one = [{"ts": "2024-01-02", "open": 1, "high": 1, "low": 1, "close": 1, "volume": 1}]
    url = f"{GOOG_URL}?timeframe=1d"
    response = await client.post(
        "/api/v1/market-data/NOPE/bars?timeframe=1d", json=one, headers=trader
    )
    assert response.status_code == 404
    assert (await client.post(url, json=one, headers=viewer)).status_code == 403
    assert (await client.post(GOOG_URL, json=one, headers=trader)).status_code == 422
    assert (
        await client.post(f"{GOOG_URL}?timeframe=2d", json=one, headers=trader)
    ).status_code == 422
    response = await client.post(
        url, data=b"<bars/>", headers={**trader, "Content-Type": "application/xml"}
    )
    assert response.status_code == 415

    app.extensions["quarkbot"].plugin_settings["market_data"].max_import_rows = 3
    many = [{**one[0], "ts": f"2024-01-0{day}"} for day in range(1, 6)]
    response = await client.post(url, json=many, headers=trader)
    assert response.status_code == 413
    assert "quarkbot data import" in (await response.get_json())["detail"]

    huge = "Date,Open,High,Low,Close,Volume\n" + "2024-01-02,1,1,1,1,1\n" * 60_000
    response = await post_csv(client, url, huge, trader)  # over QUARKBOT_MAX_BODY_BYTES
    assert response.status_code == 413
    assert await BarRecord.all().count() == 3  # the bars imported above, no more
