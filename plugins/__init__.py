"""Built-in domain plugins, installed as ``quarkbot_plugins``.

Each is a package that looks exactly like a third-party plugin. The host registers them by module
path from ``BUILTINS`` (name, module), before the entry-point plugins.
"""

BUILTINS: tuple[tuple[str, str], ...] = (
    ("market_data", "quarkbot_plugins.market_data"),
    ("trading", "quarkbot_plugins.trading"),
    ("portfolio", "quarkbot_plugins.portfolio"),
    ("risk", "quarkbot_plugins.risk"),
    ("budget", "quarkbot_plugins.budget"),
    ("strategies", "quarkbot_plugins.strategies"),
    ("backtests", "quarkbot_plugins.backtests"),
    ("metrics", "quarkbot_plugins.metrics"),
    ("hedging", "quarkbot_plugins.hedging"),
)
