"""quarkbot: a minimal Quart host for automated trading, extended through pluggy plugins.

Plugin authors need only ``from quarkbot import hookimpl``.
"""

from quarkbot.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = ["__version__", "hookimpl"]
