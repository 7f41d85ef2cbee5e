"""Plugin loading failures and settings sources."""

import sys
import uuid

import pytest

from quarkbot import hookimpl
from quarkbot.manager import PluginError, PluginManager
from quarkbot.settings import Settings


def test_a_plugin_that_fails_to_import_is_named():
    manager = PluginManager()
    with pytest.raises(PluginError, match=r"plugin 'broken' .*failed to import"):
        manager._register_module("broken", "quarkbot_no_such_module.plugin", "builtin")


def test_register_hooks_must_not_be_async():
    class AsyncRegister:
        @hookimpl
        async def register_channels(self):
            return []

    manager = PluginManager().load_all(extra=[("asyncreg", AsyncRegister())])
    with pytest.raises(PluginError, match="'asyncreg': register_channels"):
        list(manager.call_each("register_channels"))


def test_disabled_plugins_from_comma_separated_env(monkeypatch, tmp_path):
    monkeypatch.setenv("QUARKBOT_DISABLED_PLUGINS", "example, other")
    monkeypatch.setenv("QUARKBOT_JWT__TTL_SECONDS", "120")
    settings = Settings(_env_file=None, data_dir=tmp_path)
    assert settings.disabled_plugins == ["example", "other"]
    assert settings.jwt.ttl_seconds == 120
    names = {p.name for p in PluginManager(settings.disabled_plugins).load_all().plugins()}
    assert "example" not in names and "quarkbot" in names


def test_dotenv_file_is_read(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("QUARKBOT_PORT=9123\nQUARKBOT_CORS_ORIGINS=https://a.example\n")
    settings = Settings()
    assert settings.port == 9123
    assert settings.cors_origins == ["https://a.example"]


def test_embedded_defaults(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for key in ("QUARKBOT_DATABASE_URL", "QUARKBOT_REDIS_URL", "QUARKBOT_DATA_DIR"):
        monkeypatch.delenv(key, raising=False)
    settings = Settings(_env_file=None)
    assert settings.effective_database_url == f"sqlite://{tmp_path / 'var' / 'quarkbot.sqlite3'}"
    assert settings.should_auto_migrate
    assert settings.host == "127.0.0.1" and settings.port == 8000
    assert settings.cors_origins == []


def test_plugin_modules_are_loaded_after_the_entry_points(monkeypatch, tmp_path):
    name = f"qb_test_plugin_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(
        "from quarkbot import hookimpl\n\n"
        "@hookimpl\n"
        "def check_order(order, ctx):\n"
        "    return None\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("QUARKBOT_PLUGIN_MODULES", f" {name} ,")
    try:
        assert Settings(_env_file=None).plugin_modules == [name]
        plugins = PluginManager().load_all().plugins()
        loaded = [p for p in plugins if p.name == name]
        assert [(p.source, p.module, p.hooks) for p in loaded] == [
            ("module", name, ("check_order",))
        ]
        assert plugins[-1].name == name  # after the built-ins and the entry points
        assert name not in {p.name for p in PluginManager([name]).load_all().plugins()}
    finally:
        sys.modules.pop(name, None)


def test_a_plugin_module_that_fails_to_import_is_named(monkeypatch):
    monkeypatch.setenv("QUARKBOT_PLUGIN_MODULES", "quarkbot_no_such_module")
    with pytest.raises(PluginError, match=r"plugin 'quarkbot_no_such_module' .*failed to import"):
        PluginManager().load_all()
