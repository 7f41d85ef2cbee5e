"""Fixtures of the metrics tests: users, instruments with quotes and the paper engine (shared
through ``quarkbot_plugins.trading.testing``)."""

from quarkbot_plugins.trading.testing import *  # noqa: F403
