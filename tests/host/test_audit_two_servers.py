"""Two real server processes on one database append to one audit chain at once.

Each server gets concurrent limit changes (``PUT /api/v1/risk/limits``, whose row is written in
the change's transaction) and refused ones (422, written after the answer). Every request has
exactly one row, and ``quarkbot audit verify`` passes. The database is PostgreSQL when
``QUARKBOT_TEST_POSTGRES_URL`` is set, else the embedded SQLite file.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest

from quarkbot.testing import Server, bearer

pytestmark = pytest.mark.e2e

CHANGES, REFUSALS = 24, 6  # per server


async def load(server: Server, token: str, name: str) -> list[int]:
    limits = httpx.Limits(max_connections=12)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60, limits=limits) as http:

        async def put(n: int, body: dict[str, Any]) -> int:
            headers = {**bearer(token), "X-Request-ID": f"{name}-{n}"}
            response = await http.put("/api/v1/risk/limits", json=body, headers=headers)
            return response.status_code

        bodies = [{}] * CHANGES + [{"bogus": 1}] * REFUSALS
        return list(await asyncio.gather(*(put(n, body) for n, body in enumerate(bodies))))


async def test_two_servers_keep_one_chain(deployment: Any) -> None:
    with deployment() as d:
        a, b = d.serve(), d.serve()
        token = a.login(*d.admin_credentials())
        statuses = await asyncio.gather(load(a, token, "a"), load(b, token, "b"))
        for answered in statuses:
            assert Counter(answered) == {200: CHANGES, 422: REFUSALS}

        out = d.cli("audit", "verify")
        assert "audit log intact" in out, out
        http = httpx.Client(base_url=a.base_url, headers=bearer(token), timeout=30)
        page = http.get("/api/v1/audit", params={"limit": 1000, "path_prefix": "/api/v1/risk"})
        assert page.status_code == 200, page.text
        rows = page.json()["items"]
        by_request = Counter(row["request_id"] for row in rows)
        expected = {f"{name}-{n}" for name in "ab" for n in range(CHANGES + REFUSALS)}
        assert set(by_request) == expected and set(by_request.values()) == {1}
        status = {row["request_id"]: row["status"] for row in rows}
        assert {status[f"{name}-{n}"] for name in "ab" for n in range(CHANGES)} == {200}
