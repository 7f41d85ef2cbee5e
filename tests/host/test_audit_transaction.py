"""A request's audit row commits in the transaction of the change it describes.

A probe plugin's route creates users in ``events.atomic()`` transactions (one per name) and
answers how many audit rows of its own request were stored once they committed, before its
response existed. Runs on SQLite and, when configured, on PostgreSQL.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import BaseModel
from quart import Blueprint, g, request
from quart_schema import validate_response

from quarkbot import audit, events, hookimpl
from quarkbot.auth import requires
from quarkbot.http_errors import ApiError
from quarkbot.models import AuditLog, User


class ProbeOut(BaseModel):
    id: int
    audited: int


class Probe:
    @hookimpl
    def register_blueprints(self, app: Any) -> list[Blueprint]:
        blueprint = Blueprint("probe", __name__, url_prefix="/api/v1/probe")

        @blueprint.post("/users")
        @requires("admin")
        @validate_response(ProbeOut, 201)
        async def make() -> tuple[ProbeOut, int]:
            body = await request.get_json()
            user_id = 0
            for name in body["usernames"]:
                async with events.atomic():
                    user = await User.create(username=name, password_hash="x", role="viewer")
                    user_id = user.id
                    if body.get("refuse"):
                        raise ApiError(409, "refused")
            audited = await AuditLog.filter(request_id=g.request_id).count()
            return ProbeOut(id=user_id, audited=audited), 201

        return [blueprint]


@pytest.fixture
def quarkbot_plugins() -> list[tuple[str, object]]:
    return [("probe", Probe())]


async def post(client: Any, headers: dict[str, str], request_id: str, **body: Any) -> Any:
    return await client.post(
        "/api/v1/probe/users", json=body, headers={**headers, "X-Request-ID": request_id}
    )


async def rows_of(request_id: str) -> list[tuple[int, str, str]]:
    found = AuditLog.filter(request_id=request_id).order_by("seq")
    return await found.values_list("status", "action", "actor")


async def test_a_change_and_its_row_commit_together(client, user_with_headers):
    admin_user, admin = await user_with_headers("admin")
    made = await post(client, admin, "made", usernames=["p1"])
    assert made.status_code == 201
    assert (await made.get_json())["audited"] == 1  # stored with the change, before the answer
    assert await rows_of("made") == [(201, "probe.make", admin_user.username)]

    # two transactions, one row (in the first)
    twice = await post(client, admin, "twice", usernames=["p2", "p3"])
    assert (await twice.get_json())["audited"] == 1
    assert await User.filter(username__in=["p2", "p3"]).count() == 2
    assert await rows_of("twice") == [(201, "probe.make", admin_user.username)]

    # rolled back: neither the user nor a row in the transaction; the refusal's own row after it
    refused = await post(client, admin, "refused", usernames=["p4"], refuse=True)
    assert refused.status_code == 409
    assert not await User.exists(username="p4")
    assert await rows_of("refused") == [(409, "probe.make", admin_user.username)]

    # a request that commits nothing keeps its row after the response (a 422 here)
    assert (await client.post("/api/v1/auth/users", json={}, headers=admin)).status_code == 422
    total = await AuditLog.all().count()
    assert total == 4
    assert await audit.verify() == audit.VerifyResult(True, total)


async def test_a_rollback_after_the_row_was_written_leaves_neither(client, user_with_headers):
    _, admin = await user_with_headers("admin")
    assert (await post(client, admin, "first", usernames=["q1"])).status_code == 201

    async def refuse_the_commit() -> None:
        raise RuntimeError("the commit fails after the audit row went in")

    events.before_commit_hooks.append(refuse_the_commit)  # after the audit hook
    try:
        failed = await post(client, admin, "failed", usernames=["q2"])
    finally:
        events.before_commit_hooks.remove(refuse_the_commit)
    assert failed.status_code == 500
    assert not await User.exists(username="q2")
    assert [status for status, *_ in await rows_of("failed")] == [500]  # after the response

    # the process's tail did not move to the row rolled back: the next rows link to real ones
    assert (await post(client, admin, "after", usernames=["q3"])).status_code == 201
    assert (await client.post("/api/v1/auth/users", json={}, headers=admin)).status_code == 422
    assert [row.request_id for row in await AuditLog.all().order_by("seq")][:3] == [
        "first",
        "failed",
        "after",
    ]
    assert await audit.verify() == audit.VerifyResult(True, 4)


async def test_concurrent_requests_keep_one_row_each_and_the_chain(client, user_with_headers):
    _, admin = await user_with_headers("admin")
    calls = [post(client, admin, f"ok-{n}", usernames=[f"c{n}"]) for n in range(24)]
    calls += [post(client, admin, f"no-{n}", usernames=[f"r{n}"], refuse=True) for n in range(8)]
    answers = await asyncio.gather(*calls)
    assert sorted(a.status_code for a in answers) == [201] * 24 + [409] * 8
    assert await User.filter(username__startswith="c").count() == 24
    assert not await User.filter(username__startswith="r").exists()
    ids = await AuditLog.all().values_list("request_id", flat=True)
    assert sorted(ids) == sorted([f"ok-{n}" for n in range(24)] + [f"no-{n}" for n in range(8)])
    assert await audit.verify() == audit.VerifyResult(True, 32)
