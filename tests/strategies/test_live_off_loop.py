"""The live job runs the CPU-bound signal function off the worker's event loop (in a thread),
so a slow strategy (or numba compiling on first use) does not stall the worker's other jobs.

A test plugin registers a strategy type whose signal function is the real SMA crossover,
recording the thread it ran in and whether an event loop was running there."""

from __future__ import annotations

import asyncio
import sys
import threading
import types
from collections.abc import Iterator
from typing import Any

import pytest

from quarkbot import hookimpl
from quarkbot_plugins.strategies.builtin import SmaCrossoverParams
from quarkbot_plugins.strategies.types import StrategyType

from .conftest import goog_rows, recent

PROBE_MODULE = "strategies_thread_probe"
CALLS: list[dict[str, Any]] = []


def probe(bars: Any, params: Any, **context: Any) -> Any:
    from quarkbot_plugins.strategies import signal_fns

    try:
        asyncio.get_running_loop()
        loop_running = True
    except RuntimeError:
        loop_running = False
    CALLS.append({"thread": threading.get_ident(), "loop_running": loop_running})
    return signal_fns.sma_crossover(bars, params, **context)


class _Probe:
    @hookimpl
    def register_strategies(self) -> list[StrategyType]:
        return [
            StrategyType(
                name="thread_probe",
                description="sma_crossover, recording where it runs",
                params=SmaCrossoverParams,
                signals=f"{PROBE_MODULE}:probe",
                lookback=60,
            )
        ]


@pytest.fixture
def quarkbot_plugins() -> list[tuple[str, object]]:
    return [("thread_probe", _Probe())]


@pytest.fixture(autouse=True)
def probe_module(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    module = types.ModuleType(PROBE_MODULE)
    module.probe = probe  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, PROBE_MODULE, module)
    CALLS.clear()
    yield
    CALLS.clear()


async def test_the_signal_function_runs_off_the_event_loop(
    trader: dict[str, str],
    goog: str,
    import_bars: Any,
    create_strategy: Any,
    evaluate: Any,
) -> None:
    rows = goog_rows()
    await import_bars(recent(rows[-100:], 99))
    await create_strategy(trader, name="probe", type="thread_probe")
    result = await evaluate()
    assert result["evaluated"] >= 1 and not result["errors"], result
    assert CALLS, "the signal function was not called"
    assert all(not call["loop_running"] for call in CALLS), CALLS
    assert all(call["thread"] != threading.get_ident() for call in CALLS), CALLS
