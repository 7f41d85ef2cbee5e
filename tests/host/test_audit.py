"""The audit log: one hash-chained row per mutating request, its API, and tamper detection."""

from __future__ import annotations

import json
from typing import Any

from quarkbot import audit
from quarkbot.models import AuditLog
from quarkbot.testing import TEST_PASSWORD

from .helpers import cli_env, login, run_cli

NEW_PASSWORD = "a-fresh-passphrase-for-dave"


async def _some_mutations(client: Any, admin: dict[str, str]) -> list[str]:
    """A mix of mutating requests (rows 1-6); returns the secrets they carried."""
    secrets = [TEST_PASSWORD, NEW_PASSWORD, admin["Authorization"].split()[1]]
    headers = {**admin, "X-Request-ID": "req-create-dave"}
    body = {"username": "dave", "password": NEW_PASSWORD, "role": "trader"}
    response = await client.post("/api/v1/auth/users", json=body, headers=headers)
    assert response.status_code == 201
    response = await client.post("/api/v1/auth/api-keys", json={"name": "bot"}, headers=admin)
    created = await response.get_json()
    secrets.append(created["key"])
    response = await client.delete(f"/api/v1/auth/api-keys/{created['id']}", headers=admin)
    assert response.status_code == 200
    assert (await login(client, "dave", "wrong-password-attempt")).status_code == 401
    secrets.append("wrong-password-attempt")
    token = (await (await login(client, "dave", NEW_PASSWORD)).get_json())["access_token"]
    secrets.append(token)
    response = await client.post(
        "/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    # Reads are not audited.
    assert (await client.get("/api/v1/auth/users", headers=admin)).status_code == 200
    return secrets


async def test_mutating_requests_are_chained_rows(client, user_with_headers):
    admin_user, admin = await user_with_headers("admin")
    secrets = await _some_mutations(client, admin)
    # Odd paths are kept verifiable: longer than the column, and with a NUL character.
    assert (await client.post("/api/v1/" + "x" * 600, headers=admin)).status_code == 404
    # NUL is refused at the door (422) before routing; the request is still audited.
    assert (await client.post("/api/v1/a\x00b", headers=admin)).status_code == 422

    rows = await AuditLog.all().order_by("seq")
    assert [row.seq for row in rows] == list(range(1, len(rows) + 1))
    assert [(row.actor, row.actor_type, row.method, row.path, row.status) for row in rows[:6]] == [
        (admin_user.username, "token", "POST", "/api/v1/auth/users", 201),
        (admin_user.username, "token", "POST", "/api/v1/auth/api-keys", 201),
        (admin_user.username, "token", "DELETE", "/api/v1/auth/api-keys/1", 200),
        ("dave", "login", "POST", "/api/v1/auth/login", 401),
        ("dave", "login", "POST", "/api/v1/auth/login", 200),
        ("dave", "token", "POST", "/api/v1/auth/logout", 200),
    ]
    assert rows[0].request_id == "req-create-dave"
    assert rows[0].action == "auth.create_user_route"
    assert len({row.request_id for row in rows}) == len(rows)
    assert len(rows[6].path) == 500 and "\x00" not in rows[7].path

    previous = audit.GENESIS
    for row in rows:
        assert row.prev_hash == previous
        fields = ("actor", "actor_type", "method", "path", "status", "request_id", "client_ip")
        entry = audit.AuditEntry(**{name: getattr(row, name) for name in (*fields, "action")})
        assert row.hash == audit.chain_hash(previous, row.seq, row.ts, entry)
        previous = row.hash
    assert await audit.verify() == audit.VerifyResult(True, len(rows))

    stored = json.dumps(await AuditLog.all().values(), default=str)
    assert [secret for secret in secrets if secret in stored] == []


async def test_audit_api_is_admin_only_paginated_and_filtered(client, user_with_headers):
    admin_user, admin = await user_with_headers("admin")
    _, viewer = await user_with_headers("viewer")
    _, trader = await user_with_headers("trader")
    await _some_mutations(client, admin)
    total = await AuditLog.all().count()

    assert (await client.get("/api/v1/audit")).status_code == 401
    for headers in (viewer, trader):
        assert (await client.get("/api/v1/audit", headers=headers)).status_code == 403

    page = await (await client.get("/api/v1/audit?limit=2&offset=1", headers=admin)).get_json()
    assert (page["total"], page["limit"], page["offset"]) == (total, 2, 1)
    assert [item["seq"] for item in page["items"]] == [total - 1, total - 2]  # newest first
    assert set(page["items"][0]) >= {"seq", "ts", "actor", "method", "path", "status", "hash"}

    async def seqs(query: str) -> list[int]:
        response = await client.get(f"/api/v1/audit?{query}", headers=admin)
        assert response.status_code == 200, query
        return [item["seq"] for item in (await response.get_json())["items"]]

    async def expected(**filters: Any) -> list[int]:
        return await AuditLog.filter(**filters).order_by("-seq").values_list("seq", flat=True)

    assert await seqs("actor=dave") == await expected(actor="dave") != []
    assert await seqs("method=DELETE") == await expected(method="DELETE") != []
    assert await seqs("path_prefix=/api/v1/auth/api-keys") == await expected(
        path__startswith="/api/v1/auth/api-keys"
    )
    assert await seqs("status=401") == await expected(status=401) != []
    assert await seqs(f"actor={admin_user.username}&method=POST&status=201") == [2, 1]
    middle = await AuditLog.get(seq=3)
    start = middle.ts.isoformat().replace("+00:00", "Z")
    later = await seqs(f"start={start}")
    assert later == await expected(ts__gte=middle.ts) and 3 in later
    earlier = await seqs(f"end={start}")
    assert earlier == await expected(ts__lt=middle.ts) and 3 not in earlier
    assert sorted(later + earlier) == list(range(1, total + 1))
    assert await seqs("start=2000-01-01T00:00:00&end=2000-01-02T00:00:00") == []

    for query in (
        "limit=0",
        "limit=1001",
        "method=GET",
        "status=99",
        "start=yesterday",
        "start=0001-01-01T00:00:00%2B01:00",  # out of range in UTC
        "actor=%00",
    ):
        response = await client.get(f"/api/v1/audit?{query}", headers=admin)
        assert response.status_code == 422, query
    assert await AuditLog.all().count() == total  # reads add nothing


async def test_verify_detects_edits_and_deletions(
    client, user_with_headers, database_url, quarkbot_data_dir, tmp_path
):
    _, admin = await user_with_headers("admin")
    await _some_mutations(client, admin)
    rows = await AuditLog.all().count()
    assert await audit.verify() == audit.VerifyResult(True, rows)
    env = cli_env(quarkbot_data_dir, database_url)
    intact = run_cli("audit", "verify", env=env, cwd=tmp_path)
    assert intact.returncode == 0, intact.stderr
    assert f"intact: {rows} rows" in intact.stdout

    # Edit one row's status, then its actor: each breaks the chain at that row.
    original = await AuditLog.get(seq=3)
    await AuditLog.filter(seq=3).update(status=204)
    assert await audit.verify() == audit.VerifyResult(False, 2, "row seq 3 was modified")
    tampered = run_cli("audit", "verify", env=env, cwd=tmp_path)
    assert tampered.returncode == 1
    assert "row seq 3 was modified" in tampered.stderr
    await AuditLog.filter(seq=3).update(status=original.status, actor="someone-else")
    assert (await audit.verify()).problem == "row seq 3 was modified"

    # Put it back: intact again. Then delete a row.
    await AuditLog.filter(seq=3).update(actor=original.actor)
    assert (await audit.verify()).ok
    await AuditLog.filter(seq=4).delete()
    assert await audit.verify() == audit.VerifyResult(False, 3, "row seq 4 is missing")
