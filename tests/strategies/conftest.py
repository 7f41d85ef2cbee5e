"""Fixtures of the strategies tests: the names of ``quarkbot.testing``'s role fixtures' users,
the GOOG instrument and its daily bars (the CSV shipped with backtesting.py), strategy
instances, and running the plugin's jobs through a real arq worker."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

GOOG = {
    "symbol": "GOOG",
    "kind": "spot",
    "base_currency": "GOOG",
    "quote_currency": "USD",
    "name": "Alphabet Inc. Class C",
    "tick_size": "0.01",
    "lot_size": "1",
    "min_notional": "1",
}
EVALUATE = "strategies.evaluate_signals"


def goog_csv() -> Path:
    spec = importlib.util.find_spec("backtesting")
    assert spec is not None and spec.submodule_search_locations, "backtesting is not installed"
    path = Path(next(iter(spec.submodule_search_locations))) / "test" / "GOOG.csv"
    assert path.exists(), path
    return path


def goog_rows() -> list[dict[str, str]]:
    """The CSV's rows (``Date`` is the unnamed first column)."""
    with goog_csv().open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        header[0] = "Date"
        return [dict(zip(header, row, strict=True)) for row in reader]


def recent(rows: list[dict[str, str]], last: int) -> list[dict[str, str]]:
    """The rows with every date moved by the same number of days so that ``rows[last]`` is
    yesterday (UTC): the real price series (weekends and holidays kept) as if it were live, so
    that an auto-traded signal on it is not stale."""
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    shift = yesterday - date.fromisoformat(rows[last]["Date"][:10])
    return [
        {**row, "Date": (date.fromisoformat(row["Date"][:10]) + shift).isoformat()} for row in rows
    ]


@pytest.fixture
def max_trade_age(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[int], None]]:
    """``max_trade_age(n)``: set ``QUARKBOT_STRATEGIES_MAX_SIGNAL_AGE_BARS_TO_TRADE`` (each
    in-process worker run validates and installs the settings afresh); the default is back
    after the test."""

    def set_age(bars: int) -> None:
        monkeypatch.setenv("QUARKBOT_STRATEGIES_MAX_SIGNAL_AGE_BARS_TO_TRADE", str(bars))

    yield set_age
    monkeypatch.delenv("QUARKBOT_STRATEGIES_MAX_SIGNAL_AGE_BARS_TO_TRADE", raising=False)


def rows_csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Date", "Open", "High", "Low", "Close", "Volume"])
    for row in rows:
        writer.writerow([row[k] for k in ("Date", "Open", "High", "Low", "Close", "Volume")])
    return out.getvalue()


def goog_frame(rows: list[dict[str, str]] | None = None) -> Any:
    """The bars as the signal functions take them (worker side: pandas)."""
    import pandas as pd

    rows = rows if rows is not None else goog_rows()
    index = pd.DatetimeIndex([r["Date"] for r in rows]).tz_localize("UTC")
    return pd.DataFrame(
        {
            k.lower(): [float(r[k]) for r in rows]
            for k in ("Open", "High", "Low", "Close", "Volume")
        },
        index=index,
    )


@pytest.fixture
def quarkbot_usernames() -> dict[str, str]:
    """The role fixtures' users: ``admin`` ada, ``trader`` tina, ``other_trader`` otto,
    ``viewer`` vera."""
    return {"admin": "ada", "trader": "tina", "other_trader": "otto", "viewer": "vera"}


@pytest.fixture
async def goog(client: Any, admin: dict[str, str]) -> str:
    """The GOOG instrument, created through the admin API (no bars yet)."""
    response = await client.post("/api/v1/instruments", json=GOOG, headers=admin)
    assert response.status_code == 201, await response.get_data(as_text=True)
    return "GOOG"


@pytest.fixture
def import_bars(client: Any, admin: dict[str, str]) -> Callable[..., Awaitable[int]]:
    """``await import_bars(rows)``: daily GOOG bars through the import API (CSV body)."""

    async def run(rows: list[dict[str, str]], symbol: str = "GOOG") -> int:
        response = await client.post(
            f"/api/v1/market-data/{symbol}/bars?timeframe=1d",
            data=rows_csv(rows),
            headers={**admin, "Content-Type": "text/csv"},
        )
        assert response.status_code in (200, 201), await response.get_data(as_text=True)
        return int((await response.get_json())["inserted"])

    return run


@pytest.fixture
def create_strategy(client: Any) -> Callable[..., Awaitable[dict[str, Any]]]:
    async def run(headers: dict[str, str], **body: Any) -> dict[str, Any]:
        payload = {"name": "s1", "type": "sma_crossover", "symbols": ["GOOG"], **body}
        response = await client.post("/api/v1/strategies", json=payload, headers=headers)
        assert response.status_code == 201, await response.get_data(as_text=True)
        return await response.get_json()  # type: ignore[no-any-return]

    return run


@pytest.fixture
def evaluate(
    client: Any, admin: dict[str, str], run_worker: Callable[..., Awaitable[int]]
) -> Callable[[], Awaitable[dict[str, Any]]]:
    """``await evaluate()``: queue the cron job by name (admin trigger API) and run it in a
    burst worker; returns the job's recorded result."""

    async def run() -> dict[str, Any]:
        response = await client.post(f"/api/v1/system/jobs/{EVALUATE}/trigger", headers=admin)
        assert response.status_code == 202, await response.get_data(as_text=True)
        job_id = (await response.get_json())["job_id"]
        await run_worker()
        response = await client.get(f"/api/v1/jobs/{job_id}", headers=admin)
        record = await response.get_json()
        assert record["status"] == "complete", record
        return record["result"]  # type: ignore[no-any-return]

    return run


async def stream_events(channel: str) -> list[dict[str, Any]]:
    """Every event still kept in a channel's stream (the bus's own record of what it sent)."""
    from quarkbot import events

    bus = events.current_bus()
    raw = await bus.replay(channel, 0)
    assert raw is not None
    return [json.loads(item) for item in raw]


async def evaluate_totals() -> dict[str, int]:
    """The counters summed over every completed run of the cron job: a burst worker also runs
    the cron schedule when a test crosses its second, and that run may be the one that does
    the work, so tests check the totals (and the stored rows), not one run's counters."""
    from quarkbot.models import JobRun

    totals: dict[str, int] = {}
    for run in await JobRun.filter(name=EVALUATE, status="complete"):
        for key, value in (run.result or {}).items():
            if isinstance(value, int):
                totals[key] = totals.get(key, 0) + value
    return totals
