"""/health, and the real ``quarkbot`` command line: serve, users, API keys, plugins, version."""

from __future__ import annotations

import stat
from typing import Any

import httpx

from quarkbot import __version__
from quarkbot.models import ApiKey, User
from quarkbot.settings import Settings

from .helpers import admin_password, cli_env, run_cli, serving

CLI_PASSWORD = "a-password-from-stdin-7"


async def test_health_needs_no_auth_and_reports_components(client, database_url):
    response = await client.get("/health")
    assert response.status_code == 200
    body = await response.get_json()
    assert set(body) == {"status", "version", "components"}
    assert body["version"] == __version__
    database = body["components"]["database"]
    assert database["status"] == "ok"
    assert database["engine"] == ("sqlite" if database_url.startswith("sqlite") else "postgres")
    assert body["components"]["redis"]["status"] == "ok"
    # Without a worker the host still answers, and says which part is missing.
    all_ok = all(part["status"] == "ok" for part in body["components"].values())
    assert body["status"] == ("ok" if all_ok else "degraded")
    assert (await client.get("/api/v1/system/status")).status_code == 401


def test_serve_on_a_fresh_data_dir_bootstraps_an_admin(tmp_path):
    data_dir = tmp_path / "var"
    with serving(cli_env(data_dir), tmp_path) as server:
        health = httpx.get(f"{server.base_url}/health", timeout=10).json()
        assert health["version"] == __version__
        assert health["components"]["database"] == {"status": "ok", "engine": "sqlite"}

        credentials = data_dir / "admin-credentials.txt"
        assert str(credentials.resolve()) in server.proc.log()
        assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
        assert stat.S_IMODE((data_dir / "secrets.json").stat().st_mode) == 0o600
        password = admin_password(data_dir)
        token = httpx.post(
            f"{server.base_url}/token",
            data={"username": "admin", "password": password},
            timeout=10,
        )
        assert token.status_code == 200, token.text
        me = httpx.get(
            f"{server.base_url}/api/v1/auth/me",
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            timeout=10,
        )
        assert (me.json()["username"], me.json()["role"]) == ("admin", "admin")
    # SIGTERM is a clean shutdown.
    assert server.proc.returncode == 0, server.proc.log()


def _cli_env_for(settings: Settings) -> dict[str, str]:
    """The environment of a CLI that shares the test app's database and secrets."""
    assert settings.jwt.secret is not None and settings.api_key_secret is not None
    return cli_env(
        settings.data_dir,
        settings.database_url,
        QUARKBOT_JWT__SECRET=settings.jwt.secret.get_secret_value(),
        QUARKBOT_API_KEY_SECRET=settings.api_key_secret.get_secret_value(),
    )


async def test_users_and_api_keys_from_the_command_line(client: Any, quarkbot_settings, tmp_path):
    env = _cli_env_for(quarkbot_settings)
    created = run_cli(
        "users", "create", "alice", "--role", "trader", "--password-stdin",
        env=env, cwd=tmp_path, input=CLI_PASSWORD + "\n",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert "created user 'alice' with role trader" in created.stdout
    assert CLI_PASSWORD not in created.stdout
    alice = await User.get(username="alice")
    assert (alice.role, alice.is_active) == ("trader", True)
    login = await client.post(
        "/api/v1/auth/login", json={"username": "alice", "password": CLI_PASSWORD}
    )
    assert login.status_code == 200

    listed = run_cli("users", "list", env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert f"{alice.id}\talice\ttrader\tactive" in listed.stdout.splitlines()

    key = run_cli("apikeys", "create", "--user", "alice", "--name", "ci", env=env, cwd=tmp_path)
    assert key.returncode == 0, key.stderr
    plaintext = key.stdout.strip()
    assert plaintext.startswith("qk_")
    row = await ApiKey.get(prefix=plaintext.split("_")[1]).prefetch_related("user")
    assert (row.name, row.role, row.user.username) == ("ci", "trader", "alice")
    assert plaintext.split("_", 2)[2] not in row.key_hash
    me = await client.get("/api/v1/auth/me", headers={"X-API-Key": plaintext})
    assert me.status_code == 200
    assert (await me.get_json())["username"] == "alice"

    unknown = run_cli("apikeys", "create", "--user", "nobody", env=env, cwd=tmp_path)
    assert unknown.returncode == 1
    assert "no user named 'nobody'" in unknown.stderr
    assert await ApiKey.all().count() == 1


def test_version_plugins_and_usage_errors(tmp_path):
    env = cli_env(tmp_path / "var")
    version = run_cli("version", env=env, cwd=tmp_path)
    assert (version.returncode, version.stdout.strip()) == (0, __version__)

    plugins = run_cli("plugins", "list", env=env, cwd=tmp_path)
    assert plugins.returncode == 0, plugins.stderr
    rows = {line.split("\t")[0]: line.split("\t") for line in plugins.stdout.splitlines()}
    assert rows["quarkbot"][1:3] == [__version__, "host"]
    assert rows["example"][2] == "entrypoint"
    assert "register_blueprints" in rows["quarkbot"][3].split(",")

    bad_role = run_cli(
        "users", "create", "bob", "--role", "superuser", "--password-stdin",
        env=env, cwd=tmp_path, input=CLI_PASSWORD + "\n",
    )  # fmt: skip
    assert bad_role.returncode == 2
    assert "Invalid value for '--role'" in bad_role.stderr

    bad_name = run_cli(
        "users", "create", "b o b", "--password-stdin",
        env=env, cwd=tmp_path, input=CLI_PASSWORD + "\n",
    )  # fmt: skip
    assert bad_name.returncode == 1
    assert "username must be" in bad_name.stderr
    weak = run_cli(
        "users", "create", "bob", "--password-stdin", env=env, cwd=tmp_path, input="short\n"
    )
    assert weak.returncode == 1
    assert "at least 12 characters" in weak.stderr
    # Nothing was created: the (embedded) database has no users.
    listed = run_cli("users", "list", env=env, cwd=tmp_path)
    assert (listed.returncode, listed.stdout) == (0, "")
