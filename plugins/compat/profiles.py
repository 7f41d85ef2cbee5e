"""The enabled profiles: their blueprints (adapters whose native route exists) and their
WebSocket message profiles."""

from __future__ import annotations

from quart import Blueprint

from quarkbot.plugin_settings import settings_of
from quarkbot.ws import MessageProfile
from quarkbot_plugins.compat import alpha_oracle, alphapulse, llm_btc, nautilus, sockets
from quarkbot_plugins.compat.adapters import Profile
from quarkbot_plugins.compat.messages import PROFILES as MESSAGE_PROFILES
from quarkbot_plugins.compat.settings import CompatSettings

#: tradingagents has no adapters: quarkbot's native routes serve its documented requests
#: (form login, ``skip``, external strategies).
REST: dict[str, Profile] = {
    p.profile.name: p.profile for p in (alpha_oracle, alphapulse, llm_btc, nautilus)
}


def enabled() -> tuple[str, ...]:
    return settings_of(CompatSettings).profiles


def blueprints() -> list[Blueprint]:
    found = [REST[name].blueprint() for name in enabled() if name in REST]
    if "alphapulse" in enabled():
        found.append(sockets.alphapulse_sockets())
    return found


def message_profiles() -> list[MessageProfile]:
    return [MESSAGE_PROFILES[name] for name in enabled() if name in MESSAGE_PROFILES]
