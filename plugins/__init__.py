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
    ("alerts", "quarkbot_plugins.alerts"),
    ("hedging", "quarkbot_plugins.hedging"),
    ("regime", "quarkbot_plugins.regime"),
    ("agents", "quarkbot_plugins.agents"),
    ("demo", "quarkbot_plugins.demo"),
    ("dashboard", "quarkbot_plugins.dashboard"),
    ("compat", "quarkbot_plugins.compat"),
)

#: What a built-in plugin needs beyond quarkbot's own requirements: (the setup.cfg extra that
#: installs it, the top-level modules it imports). `make run` installs them; where one is
#: missing all the same, the plugin is not loaded and start-up names the extra to install.
REQUIRES: dict[str, tuple[str, tuple[str, ...]]] = {
    "strategies": ("numeric", ("numpy", "pandas", "numba", "sklearn")),
    "backtests": ("numeric", ("numpy", "pandas", "numba", "vectorbt", "plotly")),
    "regime": ("numeric", ("numpy", "statsmodels")),
}
