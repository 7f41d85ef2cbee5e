"""Suite-wide set-up. numba (vectorbt, the strategy signal functions) compiles once per machine
into ``var/numba-cache`` of this checkout; numba reads the variable once, when it is imported,
so it is set here, before any test module imports it. Worker processes started by tests inherit
it."""

import os
from pathlib import Path

import pytest

os.environ.setdefault(
    "NUMBA_CACHE_DIR", str(Path(__file__).resolve().parents[1] / "var" / "numba-cache")
)

#: Real processes skip the backtests plugin's numba warm-up (about 10 s per worker) unless a
#: test that runs backtests asks for it.
NO_WARM_UP = {"QUARKBOT_BACKTESTS_WARM_UP": "false"}


@pytest.fixture
def quarkbot_process_env() -> dict[str, str]:
    return dict(NO_WARM_UP)
