"""The docs stay in step with the code: the hook reference, the README's commands and settings."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from quarkbot import hookspecs
from quarkbot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
PLUGINS_MD = ROOT / "docs" / "plugins.md"
README = ROOT / "README.md"
HOOK_HEADING = re.compile(r"^### (\w+)\(([^)]*)\)", re.MULTILINE)
README_ENV_ROW = re.compile(r"^\| `(QUARKBOT_[A-Z0-9_]+)` \|", re.MULTILINE)


def hookspec_functions() -> list[Callable[..., Any]]:
    """The hook specifications, in the order they are defined in ``quarkbot/hookspecs.py``."""
    return [
        value
        for value in vars(hookspecs).values()
        if inspect.isfunction(value) and hasattr(value, "quarkbot_spec")
    ]


def hook_sections() -> list[tuple[str, list[str], str]]:
    """(name, argument names, text up to the next heading) for each hook heading in plugins.md."""
    text = PLUGINS_MD.read_text()
    matches = list(HOOK_HEADING.finditer(text))
    sections = []
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        body = text[match.end() : end].split("\n## ", 1)[0]
        args = [arg.strip() for arg in match.group(2).split(",") if arg.strip()]
        sections.append((match.group(1), args, body))
    return sections


def _squash(text: str) -> str:
    return " ".join(text.split())


def test_hookspecs_are_found() -> None:
    names = [fn.__name__ for fn in hookspec_functions()]
    assert "register_blueprints" in names
    assert len(names) == len(set(names))


def test_hook_reference_lists_every_hook_in_order() -> None:
    documented = [name for name, _args, _body in hook_sections()]
    assert documented == [fn.__name__ for fn in hookspec_functions()]


def test_hook_reference_arguments_match_signatures() -> None:
    specs = {fn.__name__: fn for fn in hookspec_functions()}
    for name, args, _body in hook_sections():
        expected = list(inspect.signature(specs[name]).parameters)
        assert args == expected, f"docs/plugins.md: ### {name}({', '.join(args)})"


def test_hook_reference_carries_each_docstring() -> None:
    specs = {fn.__name__: fn for fn in hookspec_functions()}
    for name, _args, body in hook_sections():
        doc = inspect.getdoc(specs[name])
        assert doc, f"hookspec {name} has no docstring"
        assert _squash(doc) in _squash(body), f"docs/plugins.md: the text of {name} is stale"


def test_readme_has_the_two_commands() -> None:
    text = README.read_text()
    assert "make run" in text
    assert "make test" in text


def _env_names(model: type[BaseModel], prefix: str) -> Iterator[str]:
    for field_name, field in model.model_fields.items():
        annotation = field.annotation
        if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
            yield from _env_names(annotation, f"{prefix}{field_name.upper()}__")
        else:
            yield f"{prefix}{field_name.upper()}"


def test_readme_configuration_table_matches_settings() -> None:
    documented = README_ENV_ROW.findall(README.read_text())
    expected = set(_env_names(Settings, "QUARKBOT_"))
    assert len(documented) == len(set(documented)), "a setting is listed twice"
    assert sorted(expected - set(documented)) == [], "settings missing from README.md"
    assert sorted(set(documented) - expected) == [], "README.md lists unknown settings"
