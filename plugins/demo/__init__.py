"""demo: a market anyone can watch, set up by ``quarkbot demo`` on an empty system.

It contributes the ``quarkbot demo`` command (``cli.py``: instruments, six years of generated
daily bars, the live feed, a paper-trading strategy with a budget, a parameter sweep, all
through the REST API) and the ``demo`` market-data source (``source.py``: live quotes and
one-minute bars of the demo instruments). The prices are generated here, deterministically
(``generator.py``); no data file is shipped. Other plugins are reached through their REST API
and ``api.py`` only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from quarkbot import hookimpl

__version__ = "0.1.0"


@hookimpl
def register_commands() -> Sequence[Any]:
    from quarkbot_plugins.demo.cli import demo

    return [demo]


@hookimpl
def register_market_data_sources() -> Sequence[Any]:
    from quarkbot_plugins.demo.source import DemoSource

    return [DemoSource()]
