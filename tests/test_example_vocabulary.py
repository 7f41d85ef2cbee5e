"""The example plugin speaks the host's vocabulary: domain errors, settings, filters, 404s."""

from __future__ import annotations

import pytest

from quarkbot.errors import Conflict


@pytest.fixture
def quarkbot_settings(quarkbot_settings, monkeypatch):
    # validated once, when the app is built: the plugin reads it through settings_of
    monkeypatch.setenv("QUARKBOT_EXAMPLE_MAX_NOTES", "2")
    return quarkbot_settings


async def test_domain_errors_reach_clients_as_http(client, auth_headers):
    from quarkbot_example.models import Note

    trader = await auth_headers("trader", username="ann")
    first = await client.post("/api/v1/example/notes", json={"text": "a"}, headers=trader)
    assert first.status_code == 201
    again = await client.post("/api/v1/example/notes", json={"text": "a"}, headers=trader)
    assert again.status_code == 409
    assert await again.get_json() == {"detail": "You already wrote 'a'", "code": "DUPLICATE_NOTE"}
    assert (
        await client.post("/api/v1/example/notes", json={"text": "b"}, headers=trader)
    ).status_code == 201
    full = await client.post("/api/v1/example/notes", json={"text": "c"}, headers=trader)
    assert full.status_code == 429
    assert await full.get_json() == {
        "detail": "At most 2 notes per author",
        "code": "NOTE_LIMIT",
        "limit": 2,
    }
    assert await Note.filter(author="ann").order_by("id").values_list("text", flat=True) == [
        "a",
        "b",
    ]


async def test_filters_and_not_found(client, auth_headers):
    ann = await auth_headers("trader", username="ann")
    bob = await auth_headers("trader", username="bob")
    for headers, text in ((ann, "Buy BTC"), (bob, "sell btc"), (bob, "hold ETH")):
        response = await client.post("/api/v1/example/notes", json={"text": text}, headers=headers)
        assert response.status_code == 201
    page = await (
        await client.get("/api/v1/example/notes?contains=btc&author=bob", headers=ann)
    ).get_json()
    assert [n["text"] for n in page["items"]] == ["sell btc"]
    assert page["total"] == 1
    first = page["items"][0]
    one = await client.get(f"/api/v1/example/notes/{first['id']}", headers=ann)
    assert await one.get_json() == first
    missing = await client.get("/api/v1/example/notes/999999", headers=ann)
    assert missing.status_code == 404
    assert await missing.get_json() == {"detail": "Note not found"}


async def test_the_service_raises_domain_errors_without_http(app):
    from quarkbot_example import service

    await service.add_note("x", "carol")
    with pytest.raises(Conflict) as raised:
        await service.add_note("x", "carol")
    assert raised.value.code == "DUPLICATE_NOTE"
