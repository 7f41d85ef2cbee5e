"""Fixtures of the metrics tests: users, instruments with quotes and the paper engine (shared
through ``quarkbot_plugins.trading.testing``)."""

import os
import shutil
import subprocess

import pytest

from quarkbot_plugins.trading.testing import *  # noqa: F403


@pytest.fixture(scope="session")
def prometheus_binary() -> str:
    """Debian's prometheus, installed here (as root) when it is missing."""
    found = shutil.which("prometheus")
    if found is None and os.geteuid() == 0:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for command in (["apt-get", "update"], ["apt-get", "install", "-y", "prometheus"]):
            subprocess.run(command, env=env, check=True, capture_output=True, timeout=900)
        found = shutil.which("prometheus")
    if found is None:
        pytest.fail("prometheus is not installed and cannot be installed (not root)")
    return found
