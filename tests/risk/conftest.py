"""Fixtures of the risk tests: users, instruments with quotes and the paper matching engine
stepped by the test (the trading test kit), and the risk test kit (``alerts``)."""

from quarkbot_plugins.risk.testing import *  # noqa: F403
from quarkbot_plugins.trading.testing import *  # noqa: F403
