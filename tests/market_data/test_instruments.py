"""Instruments over HTTP: CRUD, validation, roles; the stored rows are checked after each change."""

from decimal import Decimal

from quarkbot_plugins.market_data.models import InstrumentRecord

BTC_PERP = {
    "symbol": "BTC-USD",
    "kind": "perpetual",
    "base_currency": "BTC",
    "quote_currency": "USD",
    "name": "Bitcoin perpetual",
    "sector": "crypto",
    "tick_size": "0.5",
    "lot_size": "0.001",
    "min_notional": 5,
    "max_leverage": 100,
}
AAPL = {
    "symbol": "AAPL",
    "kind": "spot",
    "base_currency": "AAPL",
    "quote_currency": "USD",
    "name": "Apple Inc.",
    "sector": "Technology",
    "tick_size": "0.01",
    "lot_size": "1",
}


async def test_create_get_list_patch(client, admin, viewer):
    response = await client.post("/api/v1/instruments", json=BTC_PERP, headers=admin)
    assert response.status_code == 201
    body = await response.get_json()
    assert body["symbol"] == "BTC-USD"
    assert (body["tick_size"], body["lot_size"], body["min_notional"]) == ("0.5", "0.001", "5")
    assert body["max_leverage"] == 100 and body["is_active"] is True
    assert body["created_at"].endswith("Z")
    stored = await InstrumentRecord.get(symbol="BTC-USD")
    assert stored.kind == "perpetual" and stored.sector == "crypto"
    assert stored.tick_size == Decimal("0.5") and stored.lot_size == Decimal("0.001")
    assert stored.min_notional == Decimal(5) and stored.max_leverage == 100

    response = await client.post("/api/v1/instruments", json=AAPL, headers=admin)
    assert response.status_code == 201
    aapl = await response.get_json()
    assert aapl["max_leverage"] == 1 and aapl["min_notional"] == "0"

    response = await client.get("/api/v1/instruments/BTC-USD", headers=viewer)
    assert response.status_code == 200
    assert await response.get_json() == body

    async def symbols(query: str) -> tuple[list[str], int]:
        response = await client.get(f"/api/v1/instruments{query}", headers=viewer)
        assert response.status_code == 200, await response.get_data(as_text=True)
        page = await response.get_json()
        return [item["symbol"] for item in page["items"]], page["total"]

    assert await symbols("") == (["AAPL", "BTC-USD"], 2)
    assert await symbols("?kind=spot") == (["AAPL"], 1)
    assert await symbols("?kind=perpetual") == (["BTC-USD"], 1)
    assert await symbols("?sector=technology") == (["AAPL"], 1)
    assert await symbols("?q=bitcoin") == (["BTC-USD"], 1)
    assert await symbols("?q=aap") == (["AAPL"], 1)
    assert await symbols("?limit=1&offset=1") == (["BTC-USD"], 2)
    response = await client.get("/api/v1/instruments?kind=future", headers=viewer)
    assert response.status_code == 422
    response = await client.get("/api/v1/instruments?color=red", headers=viewer)
    assert response.status_code == 422

    response = await client.patch(
        "/api/v1/instruments/BTC-USD",
        json={"tick_size": "0.1", "is_active": False, "max_leverage": 50},
        headers=admin,
    )
    assert response.status_code == 200
    patched = await response.get_json()
    assert patched["tick_size"] == "0.1" and patched["is_active"] is False
    assert patched["lot_size"] == "0.001"  # untouched
    stored = await InstrumentRecord.get(symbol="BTC-USD")
    assert stored.tick_size == Decimal("0.1") and not stored.is_active
    assert stored.max_leverage == 50 and stored.lot_size == Decimal("0.001")
    assert await symbols("?is_active=false") == (["BTC-USD"], 1)
    await _check_routes_are_documented(client)


async def _check_routes_are_documented(client):
    spec = await (await client.get("/openapi.json")).get_json()
    operations = {
        (path, method): operation
        for path, item in spec["paths"].items()
        if path.startswith(("/api/v1/instruments", "/api/v1/market-data"))
        for method, operation in item.items()
    }
    # with DELETE /api/v1/instruments/{symbol} and the bar imports of CSV and of a file
    assert len(operations) == 13
    for (path, method), operation in operations.items():
        assert operation.get("summary"), (path, method)
        assert operation.get("tags") in (["instruments"], ["market-data"]), (path, method)
        assert operation.get("x-required-role") in ("viewer", "trader", "admin"), (path, method)


PATCH_REFUSED = [
    {"symbol": "BTC-USD"},  # symbols never change
    {"max_leverage": 5},  # spot stays unleveraged
    {"tick_size": None},
    {"tick_size": "-1"},
    {"lot_size": "0"},
    {"kind": "future"},
    {"color": "red"},
]
CREATE_REFUSED = [
    ({"symbol": "btc-usd"}, "symbol"),
    ({"symbol": "-BTC"}, "symbol"),
    ({"symbol": "BTC USD"}, "symbol"),
    ({"symbol": "A" * 33}, "symbol"),
    ({"kind": "future"}, "kind"),
    ({"base_currency": "us dollar"}, "base_currency"),
    ({"tick_size": "0"}, "tick_size"),
    ({"tick_size": "-0.01"}, "tick_size"),
    ({"tick_size": "0.0000000000001"}, "tick_size"),  # 13 decimal places
    ({"lot_size": "NaN"}, "lot_size"),
    ({"min_notional": "-1"}, "min_notional"),
    ({"max_leverage": 201}, "max_leverage"),
    ({"unknown": 1}, "unknown"),
]


async def test_validation(client, admin):
    for change, field in CREATE_REFUSED:
        body = {**BTC_PERP, **change}
        response = await client.post("/api/v1/instruments", json=body, headers=admin)
        assert response.status_code == 422, change
        detail = (await response.get_json())["detail"]
        assert ["body", field] in [item["loc"][:2] for item in detail], detail
    response = await client.post(
        "/api/v1/instruments", json={**AAPL, "max_leverage": 2}, headers=admin
    )
    assert response.status_code == 422
    assert "max_leverage 1" in (await response.get_json())["detail"][0]["msg"]
    assert await InstrumentRecord.all().count() == 0

    # duplicates
    assert (await client.post("/api/v1/instruments", json=AAPL, headers=admin)).status_code == 201
    response = await client.post(
        "/api/v1/instruments", json={**AAPL, "name": "again"}, headers=admin
    )
    assert response.status_code == 409
    assert "AAPL" in (await response.get_json())["detail"]
    assert await InstrumentRecord.filter(symbol="AAPL").count() == 1
    assert (await InstrumentRecord.get(symbol="AAPL")).name == "Apple Inc."

    # patches
    before = await InstrumentRecord.get(symbol="AAPL")
    for change in PATCH_REFUSED:
        response = await client.patch("/api/v1/instruments/AAPL", json=change, headers=admin)
        assert response.status_code == 422, change
        detail = (await response.get_json())["detail"]
        assert isinstance(detail, list) and detail[0]["loc"][0] == "body"
        after = await InstrumentRecord.get(symbol="AAPL")
        assert (after.tick_size, after.lot_size, after.max_leverage, after.kind) == (
            before.tick_size,
            before.lot_size,
            before.max_leverage,
            before.kind,
        )

    await client.post("/api/v1/instruments", json=BTC_PERP, headers=admin)
    response = await client.patch(
        "/api/v1/instruments/BTC-USD", json={"kind": "spot"}, headers=admin
    )
    assert response.status_code == 422
    assert (await response.get_json())["detail"][0]["loc"] == ["body", "kind"]
    response = await client.patch(
        "/api/v1/instruments/BTC-USD", json={"kind": "spot", "max_leverage": 1}, headers=admin
    )
    assert response.status_code == 200
    stored = await InstrumentRecord.get(symbol="BTC-USD")
    assert (stored.kind, stored.max_leverage) == ("spot", 1)


async def test_roles_and_unknown_symbols(client, admin, trader, viewer):
    assert (await client.post("/api/v1/instruments", json=AAPL)).status_code == 401
    for headers in (viewer, trader):
        response = await client.post("/api/v1/instruments", json=AAPL, headers=headers)
        assert response.status_code == 403
    assert await InstrumentRecord.all().count() == 0
    assert (await client.get("/api/v1/instruments")).status_code == 401

    await client.post("/api/v1/instruments", json=AAPL, headers=admin)
    response = await client.patch("/api/v1/instruments/AAPL", json={"name": "x"}, headers=trader)
    assert response.status_code == 403
    assert (await InstrumentRecord.get(symbol="AAPL")).name == "Apple Inc."
    assert (await client.get("/api/v1/instruments/AAPL", headers=viewer)).status_code == 200

    assert (await client.get("/api/v1/instruments/NOPE", headers=viewer)).status_code == 404
    response = await client.patch("/api/v1/instruments/NOPE", json={"name": "x"}, headers=admin)
    assert response.status_code == 404
    assert (await response.get_json())["detail"] == "Unknown instrument 'NOPE'"


async def test_json_numbers_are_cut_to_the_columns_places_and_the_schema_says_so(client, admin):
    # a float's spelling beyond 12 places is cut toward zero; a string stays exact (and refused)
    body = {**BTC_PERP, "tick_size": 0.30000000000000004, "lot_size": 1.5e-12, "min_notional": 0}
    response = await client.post("/api/v1/instruments", json=body, headers=admin)
    assert response.status_code == 201, await response.get_json()
    stored = await InstrumentRecord.get(symbol="BTC-USD")
    assert (stored.tick_size, stored.lot_size) == (Decimal("0.3"), Decimal("1e-12"))
    for tiny in (1e-13, 5e-324):  # below the smallest step: cut to zero, which is refused
        response = await client.patch(
            "/api/v1/instruments/BTC-USD", json={"lot_size": tiny}, headers=admin
        )
        assert response.status_code == 422, tiny
    assert (await InstrumentRecord.get(symbol="BTC-USD")).lot_size == Decimal("1e-12")

    document = await (await client.get("/openapi.json")).get_json()
    schemas = document["components"]["schemas"]
    created = schemas["InstrumentIn"]
    number = next(s for s in created["properties"]["tick_size"]["anyOf"] if s["type"] == "number")
    assert number["minimum"] == 1e-12 and "exclusiveMinimum" not in number
    assert created["properties"]["name"]["pattern"] == "^[^\\x00]*$"
    # kind "spot" with a max_leverage other than 1 is refused by the schema too, create and patch
    for name in ("InstrumentIn", "InstrumentPatch"):
        (rule,) = schemas[name]["allOf"]
        assert {"properties": {"max_leverage": {"const": 1}}} in rule["anyOf"], name
    response = await client.post(
        "/api/v1/instruments", json={**AAPL, "max_leverage": 1.0}, headers=admin
    )
    assert response.status_code == 201


async def test_a_refused_patch_names_the_field_not_pydantics_union_branches(client, admin):
    assert (await client.post("/api/v1/instruments", json=AAPL, headers=admin)).status_code == 201
    response = await client.patch(
        "/api/v1/instruments/AAPL", json={"tick_size": "1e20"}, headers=admin
    )
    assert response.status_code == 422
    (item,) = (await response.get_json())["detail"]
    assert item["loc"] == ["body", "tick_size"] and item["type"] == "less_than", item
