"""Structured logs: JSON lines carrying the request id (accepted and returned), the user, and
the job id in job logs."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from quart import Blueprint

from quarkbot import hookimpl, logs
from quarkbot.auth import requires

log = logging.getLogger("quarkbot.test_logs")
echo_bp = Blueprint("log_echo", __name__, url_prefix="/api/v1/log-echo")


@echo_bp.get("")
@requires("viewer")
async def echo() -> dict[str, str]:
    log.info("echo called")
    return {"ok": "yes"}


async def logging_job(ctx: dict[str, Any]) -> str:
    log.info("job body")
    return "done"


class Echo:
    @hookimpl
    def register_blueprints(self, app: Any) -> list[Blueprint]:
        return [echo_bp]

    @hookimpl
    def register_jobs(self) -> list[Any]:
        return [logging_job]


@pytest.fixture
def quarkbot_plugins() -> list[tuple[str, object]]:
    return [("logecho", Echo())]


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    logs.configure(fmt="json", stream=stream)
    try:
        yield stream
    finally:
        root = logging.getLogger()
        for handler in [h for h in root.handlers if getattr(h, "_quarkbot", False)]:
            root.removeHandler(handler)


def records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]


async def test_request_logs_carry_the_request_id_and_user(
    client: Any, viewer: dict[str, str], captured: io.StringIO
) -> None:
    response = await client.get("/api/v1/log-echo", headers={**viewer, "X-Request-ID": "req-42"})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "req-42"
    mine = [r for r in records(captured) if r.get("event") == "echo called"]
    assert mine and mine[0]["request_id"] == "req-42"
    assert mine[0]["user"].startswith("viewer") and mine[0]["level"] == "info"
    assert "timestamp" in mine[0] and mine[0]["logger"] == "quarkbot.test_logs"
    other = await client.get("/api/v1/log-echo", headers={**viewer, "X-Request-ID": "bad id!"})
    assert other.headers["X-Request-ID"] != "bad id!"  # refused, a fresh one instead


async def test_job_logs_carry_the_job_id(app: Any, run_worker: Any, captured: io.StringIO) -> None:
    host = app.extensions["quarkbot"]
    wanted = f"log-job-{uuid.uuid4().hex}"  # arq's job keys are global in a shared Redis
    job_id = await host.enqueue("logecho.logging_job", job_id=wanted)
    assert job_id == wanted
    assert await run_worker() >= 1
    mine = [r for r in records(captured) if r.get("event") == "job body"]
    assert mine and mine[0]["job_id"] == wanted and mine[0]["job"] == "logecho.logging_job"
