"""Fixtures for the trading tests: users, instruments and quotes, and an in-process matching
engine (shared with tests/risk and tests/budget through ``quarkbot_plugins.trading.testing``)."""

from quarkbot_plugins.trading.testing import *  # noqa: F403
