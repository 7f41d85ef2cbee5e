"""compat: quarkbot as a drop-in backend for the five systems it replaces.

One profile per seed system (``alpha_oracle``, ``alphapulse``, ``llm_btc``, ``nautilus``,
``tradingagents``), mounted by ``QUARKBOT_COMPAT_PROFILES`` (none by default). Each profile's
routes are thin adapters: they run quarkbot's own native route in-process
(:mod:`quarkbot_plugins.compat.forward`: same auth, role, validation, gates and audit) and only
rename and reshape its JSON. WebSocket message profiles shape the same bus's events. The
reference, with every endpoint and what differs: ``docs/migrating.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from quart import Blueprint, Quart

from quarkbot import hookimpl

__version__ = "0.1.0"


@hookimpl
def register_settings() -> type:
    from quarkbot_plugins.compat.settings import CompatSettings

    return CompatSettings


@hookimpl
def register_blueprints(app: Quart) -> Sequence[Blueprint]:
    from quarkbot_plugins.compat.profiles import blueprints

    return blueprints()


@hookimpl
def register_ws_profiles() -> Sequence[Any]:
    from quarkbot_plugins.compat.profiles import message_profiles

    return message_profiles()
