"""Property-based API testing with schemathesis against a real ``quarkbot serve``.

The host's own operations are fuzzed from /openapi.json, once without credentials and once as an
admin: no 5xx, and every status code, content type and body as documented. The plugins' operations
are left to the plugins' own tests.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from .helpers import Server, admin_password, cli_env, run_cli, serving

ST = str(Path(sys.executable).with_name("st"))
HOST_OPERATIONS = r"^/(health|token)$|^/api/v1/(auth|system|audit|jobs)(/|$)"
#: Everything the installed plugins add (it grows with every plugin); the kill switch is left
#: out because activating it would stop the rest of the run from trading.
PLUGIN_OPERATIONS = r"^/api/v1/(?!(auth|system|audit|jobs)(/|$))(?!risk/kill-switch)"
CHECKS = (
    "not_a_server_error,status_code_conformance,response_schema_conformance,"
    "content_type_conformance"
)
HOOKS = Path(__file__).with_name("st_auth_hooks.py")


@pytest.fixture
def live(database_url: str, redis_url: str, tmp_path: Path) -> Iterator[tuple[Server, dict]]:
    env = cli_env(
        tmp_path / "var",
        database_url,
        QUARKBOT_AUTO_MIGRATE="true",
        QUARKBOT_REDIS_URL=redis_url,
        QUARKBOT_REDIS_PREFIX=f"qbst-{uuid.uuid4().hex[:12]}",
    )
    with serving(env, tmp_path) as server:
        yield server, env


def schemathesis(
    server: Server,
    cwd: Path,
    *,
    examples: int,
    phases: str,
    env: dict[str, str] | None = None,
    operations: str = HOST_OPERATIONS,
) -> str:
    args = [
        ST, "run", f"{server.base_url}/openapi.json",
        "--include-path-regex", operations,
        "--checks", CHECKS,
        "--phases", phases,
        "--max-examples", str(examples),
        "--seed", "20261121",
        "--workers", "1",
        "--request-timeout", "30",
    ]  # fmt: skip
    result = subprocess.run(
        args,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-12000:]
    return output


def admin_api_keys(server: Server, data_dir: Path, count: int) -> list[str]:
    """A pool of admin keys, in case the run revokes the one in use."""
    token = httpx.post(
        f"{server.base_url}/token",
        data={"username": "admin", "password": admin_password(data_dir)},
        timeout=30,
    )
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    keys = []
    for index in range(count):
        response = httpx.post(
            f"{server.base_url}/api/v1/auth/api-keys",
            json={"name": f"fuzz{index}"},
            headers=headers,
            timeout=30,
        )
        assert response.status_code == 201, response.text
        keys.append(response.json()["key"])
    return keys


async def audit_rows(database_url: str, where: str) -> int:
    query = f"SELECT COUNT(*) FROM quarkbot_audit_log WHERE {where}"
    if database_url.startswith("sqlite://"):
        with sqlite3.connect(database_url.removeprefix("sqlite://")) as conn:
            return int(conn.execute(query).fetchone()[0])
    conn = await asyncpg.connect(database_url.replace("postgres://", "postgresql://", 1))
    try:
        return int(await conn.fetchval(query))
    finally:
        await conn.close()


async def test_fuzz_the_host_api(live, database_url, tmp_path):
    server, env = live
    # Without credentials: every protected operation answers a documented 401.
    schemathesis(server, tmp_path, examples=3, phases="fuzzing")
    assert await audit_rows(database_url, "actor = 'anonymous' AND status = 401") > 0

    # As an admin.
    keys = admin_api_keys(server, Path(env["QUARKBOT_DATA_DIR"]), count=10)
    schemathesis(
        server,
        tmp_path,
        examples=6,
        phases="coverage,fuzzing",
        env={
            "SCHEMATHESIS_HOOKS": str(HOOKS),
            "QBTEST_ST_BASE_URL": server.base_url,
            "QBTEST_ST_ADMIN_KEYS": ",".join(keys),
        },
    )
    # The plugins' operations, as an admin, fewer examples each.
    schemathesis(
        server,
        tmp_path,
        examples=4,
        phases="fuzzing",
        operations=PLUGIN_OPERATIONS,
        env={
            "SCHEMATHESIS_HOOKS": str(HOOKS),
            "QBTEST_ST_BASE_URL": server.base_url,
            "QBTEST_ST_ADMIN_KEYS": ",".join(keys),
        },
    )
    # The admin's requests got through, and nothing failed on the server.
    admin_writes = "actor = 'admin' AND actor_type = 'api_key' AND status BETWEEN 200 AND 299"
    assert await audit_rows(database_url, admin_writes) > 0
    assert await audit_rows(database_url, "status >= 500") == 0
    # The audit chain survived the fuzzing, odd paths and all.
    verify = run_cli("audit", "verify", env=env, cwd=tmp_path)
    assert verify.returncode == 0, verify.stderr
