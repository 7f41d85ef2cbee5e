"""Settings typos are named at start-up; a misspelt secret and a weak secret stop it."""

from __future__ import annotations

import secrets

import pytest
from pydantic import SecretStr

from quarkbot.app import create_app
from quarkbot.env_check import unknown_variables
from quarkbot.manager import PluginManager
from quarkbot.safety import InsecureConfiguration
from quarkbot.settings import JWTSettings, Settings

from .helpers import QUARKBOT, clean_env, free_port, serving

STRONG = secrets.token_urlsafe(48)


def _settings(tmp_path, **changes) -> Settings:
    values = {
        "data_dir": tmp_path / "var",
        "jwt": JWTSettings(secret=SecretStr(STRONG)),
        "api_key_secret": SecretStr(secrets.token_urlsafe(48)),
        "bootstrap_admin": False,
    }
    return Settings(_env_file=None, **(values | changes))


def test_each_unknown_variable_is_named_with_the_closest_setting():
    manager = PluginManager().load_all()
    environ = {
        "QUARKBOT_JWT_SECRET": "x",  # one underscore: the nested QUARKBOT_JWT__SECRET
        "QUARKBOT_JOBS__MAXJOBS": "3",
        "QUARKBOT_BACKTESTS_WARMUP": "false",  # a plugin's setting
        "QUARKBOT_DATABSE_URL": "sqlite://x",
        "quarkbot_hots": "127.0.0.1",  # settings are read case-insensitively
        "QUARKBOT_TEST_REDIS_URL": "redis://",  # the test suite's own, never reported
        "QUARKBOT_HOST": "127.0.0.1",  # known
        "QUARKBOT_JWT__TTL_SECONDS": "600",  # known, nested
        "QUARKBOT_TRADING_INITIAL_CAPITAL": "1000",  # known, a plugin's
    }
    found = {v.name: v.closest for v in unknown_variables(manager, environ, env_file=None)}
    assert found == {
        "QUARKBOT_JWT_SECRET": "QUARKBOT_JWT__SECRET",
        "QUARKBOT_JOBS__MAXJOBS": "QUARKBOT_JOBS__MAX_JOBS",
        "QUARKBOT_BACKTESTS_WARMUP": "QUARKBOT_BACKTESTS_WARM_UP",
        "QUARKBOT_DATABSE_URL": "QUARKBOT_DATABASE_URL",
        "QUARKBOT_HOTS": "QUARKBOT_HOST",
    }


def test_unknown_variables_in_the_env_file_are_named_too(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("QUARKBOT_PROT=9000\nOTHER=1\n")
    manager = PluginManager().load_all()
    found = unknown_variables(manager, {}, env_file=env_file)
    assert [(v.name, v.closest) for v in found] == [("QUARKBOT_PROT", "QUARKBOT_PORT")]


def test_serve_names_a_typo_and_starts_anyway(tmp_path):
    env = clean_env(tmp_path / "var", QUARKBOT_JOBS__MAXJOBS="3")
    with serving(env, tmp_path, args=("--no-worker",)) as served:
        assert served.health()["status"] in ("ok", "degraded")
        log = served.log()
    line = "QUARKBOT_JOBS__MAXJOBS is not a quarkbot setting and is ignored"
    assert f"{line}; did you mean QUARKBOT_JOBS__MAX_JOBS?" in log


@pytest.mark.parametrize("command", [("serve", "--no-worker"), ("worker", "--queues", "default")])
def test_a_misspelt_secret_stops_start_up(tmp_path, command):
    import subprocess

    env = clean_env(tmp_path / "var", QUARKBOT_JWT_SECRET=STRONG, QUARKBOT_PORT=str(free_port()))
    result = subprocess.run(
        [QUARKBOT, *command], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2, result.stderr
    assert "QUARKBOT_JWT_SECRET is not a quarkbot setting" in result.stderr
    assert "did you mean QUARKBOT_JWT__SECRET?" in result.stderr
    assert "Traceback" not in result.stderr


WEAK = {
    "a word repeated": "password" * 4,
    "the project's name repeated": "quarkbot" * 4,
    "a keyboard walk": "qwertyuiopasdfghjklzxcvbnm123456",
    "words and a year": "correcthorsebatterystaple2024!!!",
    "a sequence": "abcdefghijklmnopqrstuvwxyz012345",
}


@pytest.mark.parametrize("case", list(WEAK))
def test_weak_secrets_are_refused(tmp_path, case):
    weak = WEAK[case]
    assert len(weak.encode()) >= 32  # long enough: refused for being guessable
    for changes, name in (
        ({"jwt": JWTSettings(secret=SecretStr(weak))}, "QUARKBOT_JWT__SECRET"),
        ({"api_key_secret": SecretStr(weak)}, "QUARKBOT_API_KEY_SECRET"),
    ):
        with pytest.raises(InsecureConfiguration, match=f"{name} is "):
            create_app(_settings(tmp_path, **changes))


@pytest.mark.parametrize(
    "strong",
    [secrets.token_hex(16), secrets.token_hex(32), secrets.token_urlsafe(32), STRONG],
    ids=["hex16", "hex32", "urlsafe32", "urlsafe48"],
)
def test_generated_secrets_are_accepted(tmp_path, strong):
    app = create_app(_settings(tmp_path, jwt=JWTSettings(secret=SecretStr(strong))))
    assert app.extensions["quarkbot"].settings.jwt.secret.get_secret_value() == strong


def test_serve_refuses_a_weak_secret_naming_it(tmp_path):
    import subprocess

    env = clean_env(
        tmp_path / "var", QUARKBOT_JWT__SECRET="password" * 4, QUARKBOT_PORT=str(free_port())
    )
    result = subprocess.run(
        [QUARKBOT, "serve", "--no-worker"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "QUARKBOT_JWT__SECRET is a well-known or trivial value" in result.stderr or (
        "QUARKBOT_JWT__SECRET is too easy to guess" in result.stderr
    )
