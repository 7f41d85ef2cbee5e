"""Suite-wide set-up. numba (vectorbt, the strategy signal functions) compiles once per machine
into ``var/numba-cache`` of this checkout; numba reads the variable once, when it is imported,
so it is set here, before any test module imports it. Worker processes started by tests inherit
it."""

import os
from pathlib import Path

os.environ.setdefault(
    "NUMBA_CACHE_DIR", str(Path(__file__).resolve().parents[1] / "var" / "numba-cache")
)
