"""The CSV bar import as documented: ``POST .../bars/import`` declares text/csv and
``.../bars/upload`` multipart/form-data (``BarsFile``), one body type each (generated clients
break on several); each imports its type; the JSON path declares JSON only and still takes a CSV
for compatibility."""

from __future__ import annotations

from decimal import Decimal
from io import BytesIO
from typing import Any

from werkzeug.datastructures import FileStorage

from quarkbot_plugins.market_data.models import BarRecord

INSTRUMENT = {
    "symbol": "ACME", "kind": "spot", "base_currency": "ACME", "quote_currency": "USD",
    "tick_size": "0.01", "lot_size": "1",
}  # fmt: skip
IMPORT = "/api/v1/market-data/ACME/bars/import"
UPLOAD = "/api/v1/market-data/ACME/bars/upload"
CSV = "Date,Open,High,Low,Close,Volume\n" + "".join(
    f"2024-02-{day:02d},100,102,99,101,1000\n" for day in range(1, 6)
)


async def test_document_declares_csv_and_multipart(client: Any) -> None:
    spec = await (await client.get("/openapi.json")).get_json()
    paths = spec["paths"]
    body = paths["/api/v1/market-data/{symbol}/bars/import"]["post"]["requestBody"]
    assert body["required"] is True
    assert set(body["content"]) == {"text/csv"}
    assert body["content"]["text/csv"]["schema"]["format"] == "binary"
    body = paths["/api/v1/market-data/{symbol}/bars/upload"]["post"]["requestBody"]
    assert body["required"] is True
    assert set(body["content"]) == {"multipart/form-data"}
    form = body["content"]["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert spec["components"]["schemas"][form]["required"] == ["file"]
    json_body = paths["/api/v1/market-data/{symbol}/bars"]["post"]["requestBody"]
    assert set(json_body["content"]) == {"application/json"}


async def _stored(timeframe: str) -> list[Decimal]:
    rows = await BarRecord.filter(timeframe=timeframe).order_by("ts")
    return [row.close for row in rows]


async def test_csv_body_and_file_through_the_import(client: Any, admin: Any, trader: Any) -> None:
    response = await client.post("/api/v1/instruments", json=INSTRUMENT, headers=admin)
    assert response.status_code == 201, await response.get_data(as_text=True)

    csv_headers = {**trader, "Content-Type": "text/csv"}
    response = await client.post(f"{IMPORT}?timeframe=1d", data=CSV, headers=csv_headers)
    assert response.status_code == 200, await response.get_data(as_text=True)
    assert (await response.get_json())["inserted"] == 5
    assert await _stored("1d") == [Decimal(101)] * 5

    upload = FileStorage(BytesIO(CSV.encode()), filename="bars.csv", content_type="text/csv")
    response = await client.post(f"{UPLOAD}?timeframe=1h", files={"file": upload}, headers=trader)
    assert response.status_code == 200, await response.get_data(as_text=True)
    assert await _stored("1h") == [Decimal(101)] * 5

    # JSON belongs to .../bars, a file to .../upload; the old path still takes a CSV body
    response = await client.post(f"{IMPORT}?timeframe=4h", json=[], headers=trader)
    assert response.status_code == 415
    response = await client.post(f"{UPLOAD}?timeframe=4h", data=CSV, headers=csv_headers)
    assert response.status_code == 415
    response = await client.post(
        "/api/v1/market-data/ACME/bars?timeframe=4h", data=CSV, headers=csv_headers
    )
    assert response.status_code == 200, await response.get_data(as_text=True)
    assert await _stored("4h") == [Decimal(101)] * 5
