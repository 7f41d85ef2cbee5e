"""The example third-party plugin (tests/example_plugin, installed by `make test`) end to end."""

import asyncio
import json

import pytest
from quart import Blueprint

from quarkbot import hookimpl
from quarkbot.app import create_app
from quarkbot.manager import PluginError
from quarkbot.models import JobRun


async def _receive_until(ws, predicate, timeout=5.0):
    async def loop():
        while True:
            message = json.loads(await ws.receive())
            if predicate(message):
                return message

    return await asyncio.wait_for(loop(), timeout)


async def test_discovered_through_its_entry_point(registered):
    info = registered("example")
    assert info.source == "entrypoint"
    assert info.version == "0.3.0"
    assert "register_jobs" in info.hooks


async def test_route_model_channel_and_job(app, client, auth_headers, run_worker):
    from quarkbot_example.models import Note

    trader = await auth_headers("trader")
    token = trader["Authorization"].split()[1]
    async with client.websocket("/ws") as ws:
        await ws.send(json.dumps({"type": "auth", "token": token}))
        welcome = json.loads(await ws.receive())
        assert welcome["type"] == "welcome"
        await ws.send(json.dumps({"type": "subscribe", "channels": ["example:notes"]}))
        await _receive_until(ws, lambda m: m["type"] == "subscribed")

        response = await client.post("/api/v1/example/notes", json={"text": "hi"}, headers=trader)
        assert response.status_code == 201
        note_id = (await response.get_json())["id"]
        event = await _receive_until(ws, lambda m: m.get("channel") == "example:notes")
        assert event["type"] == "note.created"
        assert event["data"] == {"id": note_id, "text": "hi"}
        assert event["seq"] == 1

        queue = app.extensions["quarkbot"].job_queue()
        spec = app.extensions["quarkbot"].jobs["example.stamp_notes"]
        job_id = await queue.enqueue(spec, note_id)
        assert await run_worker() >= 1  # cron jobs that run at start-up count too
        stamped = await _receive_until(ws, lambda m: m.get("type") == "note.stamped")
        assert stamped["data"] == {"id": note_id, "applied": True}

    note = await Note.get(id=note_id)
    assert note.stamps == 1
    run = await JobRun.get(job_id=job_id)
    assert run.status == "complete"
    assert run.result == {"note_id": note_id, "applied": True}

    # arq runs jobs at least once: a second run of the same work must not apply it again.
    await queue.enqueue(spec, note_id)
    await run_worker()
    assert (await Note.get(id=note_id)).stamps == 1


async def test_disabled_plugin_routes_are_gone(quarkbot_settings, auth_headers):
    settings = quarkbot_settings.model_copy(update={"disabled_plugins": ["example"]})
    app = create_app(settings)
    names = {info.name for info in app.extensions["quarkbot"].manager.plugins()}
    assert "example" not in names
    assert not any(r.rule.startswith("/api/v1/example") for r in app.url_map.iter_rules())


class _Clash:
    @hookimpl
    def register_blueprints(self):
        return [Blueprint("example", __name__)]


def test_duplicate_blueprint_names_both_plugins(quarkbot_settings):
    with pytest.raises(PluginError) as excinfo:
        create_app(quarkbot_settings, plugins=[("clash", _Clash())])
    message = str(excinfo.value)
    assert "'example'" in message and "'clash'" in message
