"""``QUARKBOT_*`` variables that match no setting: named at start-up, with the closest setting.

pydantic-settings ignores a variable it does not know, so ``QUARKBOT_JWT_SECRET`` (one
underscore) would silently leave the JWT secret generated: every unknown variable is logged
with the setting it most resembles, and an unknown secret-like one (``SECRET``, ``PASSWORD``,
``TOKEN``, ``KEY`` in its name) stops start-up. The known names are the host's settings
(nested with ``__``) and every loaded plugin's (``register_settings``, by its ``env_prefix``).
``QUARKBOT_TEST_*`` belongs to the test suite and is never reported.
"""

from __future__ import annotations

import difflib
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from quarkbot.manager import PluginManager
from quarkbot.safety import InsecureConfiguration
from quarkbot.settings import Settings

log = logging.getLogger("quarkbot")

PREFIX = "QUARKBOT_"
RESERVED_PREFIXES = ("QUARKBOT_TEST_",)
SECRET_WORDS = ("SECRET", "PASSWORD", "PASSWD", "TOKEN", "KEY", "CREDENTIAL")


@dataclass(frozen=True)
class UnknownVariable:
    name: str
    closest: str | None

    @property
    def secret_like(self) -> bool:
        return any(word in self.name for word in SECRET_WORDS)

    def message(self) -> str:
        hint = f"; did you mean {self.closest}?" if self.closest else ""
        return f"{self.name} is not a quarkbot setting and is ignored{hint}"


def _field_names(model: type[BaseModel], prefix: str, delimiter: str | None) -> Iterator[str]:
    for name, info in model.model_fields.items():
        full = f"{prefix}{name}".upper()
        yield full
        annotation = info.annotation
        if delimiter and isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from _field_names(annotation, f"{full}{delimiter}", delimiter)


def _settings_names(model: type[BaseModel]) -> set[str]:
    config: Mapping[str, Any] = getattr(model, "model_config", {})
    prefix = str(config.get("env_prefix") or "")
    return set(_field_names(model, prefix, config.get("env_nested_delimiter")))


def known_settings(manager: PluginManager) -> set[str]:
    """Every variable name a setting reads: the host's and each loaded plugin's."""
    known = _settings_names(Settings)
    for _plugin, model in manager.call_each("register_settings"):
        if isinstance(model, type) and issubclass(model, BaseModel):
            known |= _settings_names(model)
    return known


def _given_names(environ: Mapping[str, str], env_file: Path | None) -> set[str]:
    names = {name.upper() for name in environ}
    if env_file is not None and env_file.is_file():
        from dotenv import dotenv_values

        names |= {name.upper() for name in dotenv_values(env_file)}
    return {
        name for name in names if name.startswith(PREFIX) and not name.startswith(RESERVED_PREFIXES)
    }


def unknown_variables(
    manager: PluginManager,
    environ: Mapping[str, str] | None = None,
    env_file: Path | None = Path(".env"),
) -> list[UnknownVariable]:
    """The ``QUARKBOT_*`` variables (environment and ``.env``) that no setting reads."""
    known = known_settings(manager)
    given = _given_names(os.environ if environ is None else environ, env_file)
    found = []
    for name in sorted(given - known):
        closest = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
        found.append(UnknownVariable(name, closest[0] if closest else None))
    return found


def check_environment(manager: PluginManager, *, notify: bool = True) -> None:
    """Log each unknown variable (``notify``); raise for an unknown secret-like one."""
    unknown = unknown_variables(manager)
    if notify:
        for variable in unknown:
            log.warning("quarkbot: %s", variable.message())
    secrets = [variable for variable in unknown if variable.secret_like]
    if secrets:
        raise InsecureConfiguration(
            "refusing to start, a secret-like variable is not a setting (a misspelt secret "
            "would be ignored and a generated one used):\n  - "
            + "\n  - ".join(variable.message() for variable in secrets)
        )
