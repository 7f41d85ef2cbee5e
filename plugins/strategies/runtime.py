"""What a worker run of the strategies jobs shares: its counters and numba's cache directory."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Summary:
    """The counters of one ``strategies.evaluate_signals`` run (its recorded result)."""

    instances: int = 0
    evaluated: int = 0
    signals: int = 0
    orders: int = 0
    training_queued: int = 0
    drift_events: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def numba_cache(ctx: dict[str, Any]) -> None:
    """numba compiles once per machine: its cache goes in the data dir unless set."""
    settings = ctx.get("settings")
    if settings is not None:
        os.environ.setdefault("NUMBA_CACHE_DIR", str(settings.data_dir / "numba-cache"))
