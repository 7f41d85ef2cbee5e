"""Insecure configuration is a start-up error, in the app factory and in the real CLI."""

from __future__ import annotations

import json
import stat

import pytest
from pydantic import SecretStr, ValidationError

from quarkbot.app import create_app
from quarkbot.safety import InsecureConfiguration
from quarkbot.settings import JWTSettings

from .helpers import SECRET, cli_env, free_port, offline_settings, run_cli

TUTORIAL_SECRET = "09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7"
settings = offline_settings


INSECURE = {
    "short JWT secret": (
        {"jwt": JWTSettings(secret=SecretStr("short-secret-123"))},
        r"QUARKBOT_JWT__SECRET is 16 bytes; it must be at least 32",
    ),
    "changeme": (
        {"jwt": JWTSettings(secret=SecretStr("changeme"))},
        r"QUARKBOT_JWT__SECRET is a well-known",
    ),
    "secret": ({"jwt": JWTSettings(secret=SecretStr("secret"))}, r"QUARKBOT_JWT__SECRET"),
    "a tutorial's 64-character secret": (
        {"jwt": JWTSettings(secret=SecretStr(TUTORIAL_SECRET))},
        r"QUARKBOT_JWT__SECRET is a well-known",
    ),
    "a long but trivial secret": (
        {"jwt": JWTSettings(secret=SecretStr("ab" * 32))},
        r"QUARKBOT_JWT__SECRET is a well-known or trivial",
    ),
    "short API key secret": (
        {"api_key_secret": SecretStr("tiny-but-not-trivial")},
        r"QUARKBOT_API_KEY_SECRET is 20 bytes",
    ),
    "public bind": ({"host": "0.0.0.0"}, r"QUARKBOT_HOST=0\.0\.0\.0 .*QUARKBOT_ALLOW_PUBLIC_BIND"),
    "public IPv6 bind": ({"host": "::"}, r"QUARKBOT_ALLOW_PUBLIC_BIND"),
    "CORS * with credentials": (
        {"cors_origins": ["*"], "cors_allow_credentials": True},
        r"QUARKBOT_CORS_ORIGINS='\*' with QUARKBOT_CORS_ALLOW_CREDENTIALS",
    ),
}


@pytest.mark.parametrize("case", list(INSECURE))
def test_create_app_refuses_insecure_configuration(tmp_path, case):
    changes, message = INSECURE[case]
    with pytest.raises(InsecureConfiguration, match=message):
        create_app(settings(tmp_path, **changes))
    assert not (tmp_path / "var" / "secrets.json").exists()


def test_every_problem_is_named_at_once(tmp_path):
    insecure = settings(
        tmp_path,
        jwt=JWTSettings(secret=SecretStr("changeme")),
        host="0.0.0.0",
        cors_origins=["*"],
        cors_allow_credentials=True,
    )
    with pytest.raises(InsecureConfiguration) as raised:
        create_app(insecure)
    message = str(raised.value)
    for name in ("QUARKBOT_JWT__SECRET", "QUARKBOT_ALLOW_PUBLIC_BIND", "QUARKBOT_CORS_ORIGINS"):
        assert name in message


@pytest.mark.parametrize(
    "changes",
    [
        {"host": "0.0.0.0", "allow_public_bind": True},
        {"host": "localhost"},
        {"host": "::1"},
        {"cors_origins": ["*"], "cors_allow_credentials": False},
        {"cors_origins": ["https://app.example.com"], "cors_allow_credentials": True},
    ],
    ids=["public-bind-on-purpose", "localhost", "ipv6-loopback", "cors-star", "cors-origin"],
)
def test_safe_configurations_start(tmp_path, changes):
    app = create_app(settings(tmp_path, **changes))
    assert app.extensions["quarkbot"].settings.host == changes.get("host", "127.0.0.1")


def test_jwt_algorithm_none_is_not_a_setting(tmp_path):
    with pytest.raises(ValidationError):
        JWTSettings(secret=SecretStr(SECRET), algorithm="none")  # type: ignore[arg-type]


def test_the_embedded_default_generates_private_secrets(tmp_path):
    embedded = settings(tmp_path, jwt=JWTSettings(), api_key_secret=None)
    first = create_app(embedded)
    data_dir = tmp_path / "var"
    path = data_dir / "secrets.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    stored = json.loads(path.read_text())
    assert set(stored) == {"jwt_secret", "api_key_secret"}
    assert all(len(value.encode()) >= 32 for value in stored.values())
    assert stored["jwt_secret"] != stored["api_key_secret"]

    # A restart keeps them, so tokens and API keys stay valid.
    second = create_app(embedded)
    assert json.loads(path.read_text()) == stored
    issued = first.extensions["quarkbot"].tokens
    assert issued._secret == second.extensions["quarkbot"].tokens._secret == stored["jwt_secret"]

    # A secrets file that others can read is refused.
    path.chmod(0o644)
    with pytest.raises(InsecureConfiguration, match="chmod 600"):
        create_app(embedded)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"QUARKBOT_JWT__SECRET": "short"}, "QUARKBOT_JWT__SECRET"),
        ({"QUARKBOT_HOST": "0.0.0.0"}, "QUARKBOT_ALLOW_PUBLIC_BIND"),
    ],
    ids=["short-secret", "public-host"],
)
def test_serve_exits_2_naming_the_setting(tmp_path, env, named):
    environment = cli_env(tmp_path / "var", QUARKBOT_PORT=str(free_port()), **env)
    # run_cli kills the server if the check ever lets it start.
    result = run_cli("serve", "--no-worker", env=environment, cwd=tmp_path, timeout=60)
    assert result.returncode == 2, result.stderr
    assert named in result.stderr
    assert "Traceback" not in result.stderr
