"""Fixtures of the budget tests: users, instruments with quotes, and the paper matching engine
stepped by the test (shared with tests/risk through ``quarkbot_plugins.risk.testing``)."""

from quarkbot_plugins.risk.testing import *  # noqa: F403
from quarkbot_plugins.trading.testing import *  # noqa: F403
