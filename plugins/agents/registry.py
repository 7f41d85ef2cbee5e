"""The agent types registered through ``register_agents`` (every plugin's, built-ins too)."""

from __future__ import annotations

from quarkbot_plugins.agents.contract import AgentType

_cache: tuple[int, dict[str, AgentType]] | None = None


def agent_types() -> dict[str, AgentType]:
    """Every registered type by name (a name registered twice stops start-up)."""
    global _cache
    from quarkbot import hooks
    from quarkbot.manager import unique_by_name

    manager = hooks.current_manager()
    if _cache is not None and _cache[0] == id(manager):
        return _cache[1]
    grouped = [
        (plugin, [t for t in types if isinstance(t, AgentType)])
        for plugin, types in manager.call_each("register_agents")
    ]
    found = {t.name: t for _, t in unique_by_name(grouped, lambda t: t.name, "agent type")}
    _cache = (id(manager), found)
    return found
