"""Start-up speed-ups keep behaviour: tortoise's ``#:`` comment search (quarkbot.tortoise_speedups)
answers what tortoise's own search answers, for every model the default app loads and for a model
that does carry ``#:`` comments."""

from __future__ import annotations

import gc
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from quart import Blueprint, url_for
from quart.routing import QuartRule
from tortoise import models as tortoise_models
from werkzeug.routing.converters import NumberConverter

from quarkbot import db, deferred_models, hookimpl, tortoise_speedups
from quarkbot.app import create_app
from quarkbot.lazy import lazy_import
from quarkbot.manager import PluginError
from quarkbot.url_rules import LazyBuildRule

from .helpers import offline_settings
from .test_packaging import _fresh_python

EVERY_MODEL = """
import json
import pytest
from tortoise import models as tortoise_models
from quarkbot import tortoise_speedups
from quarkbot.asgi import app

assert tortoise_models._get_comments is tortoise_speedups.get_comments

def subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from subclasses(sub)

names, differ = [], []
for model in subclasses(tortoise_models.Model):
    names.append(f"{model.__module__}.{model.__qualname__}")
    if tortoise_speedups.get_comments(model) != tortoise_speedups._ORIGINAL(model):
        differ.append(names[-1])
print(json.dumps({"names": names, "differ": differ}))
"""

COMMENTED = """
from tortoise import fields
from tortoise.models import Model


class Commented(Model):
    id = fields.IntField(primary_key=True)
    #: The {model}'s display name.
    name = fields.CharField(max_length=20)

    class Meta:
        app = "speedup_probe"
"""


def test_db_installs_the_comment_search():
    assert db.tortoise_speedups is tortoise_speedups
    assert tortoise_models._get_comments is tortoise_speedups.get_comments


def test_every_model_of_the_default_app_gets_the_same_comments(tmp_path):
    result = _fresh_python(EVERY_MODEL, tmp_path)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.splitlines()[-1])
    assert any(".market_data." in name for name in found["names"]), found["names"]
    assert any(name.startswith("quarkbot.models.") for name in found["names"]), found["names"]
    assert found["differ"] == []


def test_a_model_with_comments_keeps_its_description(tmp_path: Path, monkeypatch):
    path = tmp_path / "speedup_probe_models.py"
    path.write_text(COMMENTED)
    spec = importlib.util.spec_from_file_location("speedup_probe_models", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # inspect finds the source through it
    spec.loader.exec_module(module)
    field = module.Commented._meta.fields_map["name"]
    assert field.description == "The Commented's display name."
    assert tortoise_speedups.may_have_comments(module.Commented)


def test_a_file_without_comments_skips_the_source_search():
    from quarkbot.models import User

    assert "#:" not in Path(sys.modules[User.__module__].__file__ or "").read_text()
    assert not tortoise_speedups.may_have_comments(User)


#: modules the web process must not execute at start-up (loaded by their handlers on first use)
LAZY_AT_START = (
    "quarkbot_plugins.agents.analysis",
    "quarkbot_plugins.agents.providers",
    "quarkbot_plugins.agents.service",
    "quarkbot_plugins.hedging.effectiveness",
    "quarkbot_plugins.hedging.execution",
    "quarkbot_plugins.hedging.report",
    "quarkbot_plugins.hedging.service",
)

NOT_EXECUTED = f"""
import json, sys, types
from quarkbot.asgi import app
assert app.extensions['quarkbot'].manager.plugins()
print(json.dumps([n for n in {LAZY_AT_START!r}
                  if n in sys.modules and type(sys.modules[n]) is types.ModuleType]))
"""


def test_start_up_leaves_service_modules_unexecuted(tmp_path):
    result = _fresh_python(NOT_EXECUTED, tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == []


def test_lazy_import_executes_on_first_use(tmp_path: Path, monkeypatch):
    (tmp_path / "lazy_probe_module.py").write_text("import sys\nsys.lazy_probe_ran = True\nX = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "lazy_probe_module", raising=False)
    monkeypatch.delattr(sys, "lazy_probe_ran", raising=False)
    module = lazy_import("lazy_probe_module")
    try:
        assert not hasattr(sys, "lazy_probe_ran")
        assert lazy_import("lazy_probe_module") is module
        assert module.X == 1
        assert sys.lazy_probe_ran is True  # type: ignore[attr-defined]
    finally:
        sys.modules.pop("lazy_probe_module", None)
        if hasattr(sys, "lazy_probe_ran"):
            delattr(sys, "lazy_probe_ran")


def test_lazy_import_of_a_missing_module_fails_at_once():
    with pytest.raises(ModuleNotFoundError):
        lazy_import("quarkbot_plugins.agents.no_such_module")


def _sample_values(rule: Any) -> dict[str, Any]:
    return {
        name: 7 if isinstance(converter, NumberConverter) else "sample"
        for name, converter in rule._converters.items()
    }


async def test_url_builders_compiled_on_first_use_build_what_werkzeug_builds(tmp_path):
    app = create_app(offline_settings(tmp_path))
    async with app.test_request_context("/"):
        assert url_for("docs.swagger_ui") == "/docs"
        assert url_for("static", filename="docs/favicon.svg") == "/static/docs/favicon.svg"
    rules = list(app.url_map.iter_rules())
    assert rules and all(type(rule) is LazyBuildRule for rule in rules)
    lazy: dict[str, tuple[str, str] | None] = {}
    for rule in rules:
        values = _sample_values(rule)
        lazy[rule.rule] = rule.build({**values, "extra": "x y"}, append_unknown=True)
        first = rule.build(values, append_unknown=False)
        assert rule.build(values, append_unknown=False) == first  # now werkzeug's own builder
    for rule in rules:  # the same rules, compiled by werkzeug at once
        rule.__class__ = QuartRule
        rule.compile()
        eager = rule.build({**_sample_values(rule), "extra": "x y"}, append_unknown=True)
        assert eager == lazy[rule.rule], rule.rule


def test_a_bad_default_of_a_url_variable_still_fails_when_the_rule_is_added(tmp_path):
    app = create_app(offline_settings(tmp_path))
    with pytest.raises(ValueError):
        app.add_url_rule("/broken/<int:n>", "broken", lambda: "", defaults={"n": "not a number"})


# the plugins' pydantic models: built on first use, checked at start-up once per code version ----
SERVED_DOCUMENT = """
{prelude}
import asyncio, json, sys
from quarkbot import deferred_models
deferred_models.ENABLED = {enabled}
from quarkbot.app import create_app

app = create_app()
pending = sum(not model.__pydantic_complete__ for model in deferred_models._models())

async def main():
    response = await app.test_client().get("/openapi.json")
    assert response.status_code == 200
    return await response.get_data()

document = asyncio.run(main())
print(json.dumps({{"pending": pending, "document": document.decode()}}))
"""


def _served(tmp_path: Path, enabled: bool, prelude: str = "") -> dict[str, Any]:
    result = _fresh_python(SERVED_DOCUMENT.format(enabled=enabled, prelude=prelude), tmp_path)
    assert result.returncode == 0, result.stderr
    served: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return served


def test_the_served_document_is_the_one_of_models_built_at_once(tmp_path):
    eager = _served(tmp_path, enabled=False)
    assert eager["pending"] == 0
    assert not (tmp_path / "var" / deferred_models.CHECKED_FILE).exists()
    checked = _served(tmp_path, enabled=True)  # a first start builds them all, then records it
    assert checked["pending"] == 0
    assert (tmp_path / "var" / deferred_models.CHECKED_FILE).exists()
    for _ in range(3):  # the same code again: built by the document
        # started otherwise (other modules loaded first, as hypercorn or the CLI do): same record
        lazy = _served(tmp_path, enabled=True, prelude="import click, hypercorn.config")
        if lazy["pending"]:
            break  # (else a file changed meanwhile, another session's edit: checked again)
    assert lazy["pending"] > 100
    assert checked["document"] == eager["document"]
    assert lazy["document"] == eager["document"]


class Opaque:
    """A type pydantic has no schema for."""


class BadModelPlugin:
    @hookimpl
    def register_blueprints(self, app: Any) -> list[Blueprint]:
        class BrokenBody(BaseModel):  # defined at registration, like a plugin's schemas module
            value: Opaque

        self.models = [BrokenBody]  # kept, as a module keeps its classes
        return [Blueprint("broken_models", __name__)]


def test_a_model_that_cannot_be_built_stops_every_start(tmp_path):
    create_app(offline_settings(tmp_path))
    # as if a good start of the same code had recorded it (the models of this process are built)
    marker = tmp_path / "var" / deferred_models.CHECKED_FILE
    marker.write_text(deferred_models._fingerprint([]))
    plugin = BadModelPlugin()
    try:
        for _ in range(2):
            with pytest.raises(PluginError, match=r"BrokenBody cannot be built"):
                create_app(offline_settings(tmp_path), plugins=[("bad", plugin)])
    finally:  # the broken class would stop every later app of this test process
        plugin.models.clear()
        gc.collect()
    assert not any(model.__name__ == "BrokenBody" for model in deferred_models._models())
