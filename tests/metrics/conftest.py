"""Fixtures of the metrics tests: users, instruments with quotes and the paper engine (shared
through ``quarkbot_plugins.trading.testing``)."""

import pytest

from quarkbot.testing_packages import debian_program
from quarkbot_plugins.trading.testing import *  # noqa: F403


@pytest.fixture(scope="session")
def prometheus_binary() -> str:
    """Debian's prometheus, installed here (as root) when it is missing."""
    return debian_program("prometheus", "prometheus")
