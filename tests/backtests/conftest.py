"""Fixtures of the backtests tests: instruments with real bars, direct vectorbt runs (the role
fixtures ``admin``, ``trader`` and ``viewer`` are ``quarkbot.testing``'s).

numba compiles once per machine: its cache lives in ``<repo>/var/numba-cache`` (set here, at
import, before anything imports numba).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

INSTRUMENT = {
    "kind": "spot",
    "quote_currency": "USD",
    "tick_size": "0.00001",
    "lot_size": "0.0001",
    "min_notional": "0",
}


def csv_path(name: str) -> Path:
    """Real historical data shipped by the ``backtesting`` package (GOOG daily, EURUSD hourly,
    BTCUSD monthly)."""
    spec = importlib.util.find_spec("backtesting")
    if spec is None or spec.origin is None:
        pytest.skip("the backtesting package is not installed (pip install -e '.[dev]')")
    path = Path(spec.origin).parent / "test" / f"{name}.csv"
    assert path.exists(), path
    return path


def csv_text(name: str, rows: int | None = None) -> str:
    lines = csv_path(name).read_text().splitlines()
    return "\n".join(lines if rows is None else lines[: rows + 1]) + "\n"


@pytest.fixture
def import_bars(client: Any, admin: dict[str, str]) -> Callable[..., Awaitable[int]]:
    """``await import_bars("GOOG", "1d", rows=None, symbol=None)``: create the instrument and
    import the CSV through the bars API (docs/market-data.md); returns the rows imported."""

    async def run(name: str, timeframe: str, rows: int | None = None, symbol: str = "") -> int:
        symbol = symbol or name
        body = {**INSTRUMENT, "symbol": symbol, "base_currency": symbol, "name": symbol}
        response = await client.post("/api/v1/instruments", json=body, headers=admin)
        assert response.status_code in (201, 409), await response.get_data(as_text=True)
        response = await client.post(
            f"/api/v1/market-data/{symbol}/bars?timeframe={timeframe}",
            data=csv_text(name, rows),
            headers={**admin, "Content-Type": "text/csv"},
        )
        assert response.status_code == 200, await response.get_data(as_text=True)
        return int((await response.get_json())["inserted"])

    return run


def frame(name: str, rows: int | None = None) -> Any:
    """The CSV as the worker sees it: float columns, UTC index."""
    import pandas as pd

    df = pd.read_csv(csv_path(name), index_col=0, parse_dates=True)
    if rows is not None:
        df = df.iloc[:rows]
    df.index = df.index.tz_localize("UTC")
    df.columns = [c.lower() for c in df.columns]
    return df


def direct_sma(
    close: Any,
    pairs: list[tuple[int, int]],
    cash: float,
    fees: float,
    slippage: float,
    freq: str,
) -> Any:
    """vectorbt itself, on the same data: SMA crossover columns and ONE from_signals."""
    import numpy as np
    import vectorbt as vbt

    fast = vbt.MA.run(close, [f for f, _ in pairs], short_name="fast")
    slow = vbt.MA.run(close, [s for _, s in pairs], short_name="slow")
    entries = fast.ma_crossed_above(slow).to_numpy()
    exits = fast.ma_crossed_below(slow).to_numpy()
    return vbt.Portfolio.from_signals(
        close,
        np.asarray(entries, dtype=bool),
        np.asarray(exits, dtype=bool),
        init_cash=cash,
        fees=fees,
        slippage=slippage,
        freq=freq,
    )


def direct_metrics(pf: Any, close: Any) -> list[dict[str, float | None]]:
    """Every metric of every column, one dict per column (the documented definitions)."""
    import math

    import numpy as np

    def arr(x: Any) -> Any:
        return np.atleast_1d(np.asarray(x, dtype=float))

    total = arr(pf.total_return())
    bh = float(close.iloc[-1] / close.iloc[0] - 1)
    columns = {
        "total_return_pct": total * 100,
        "cagr": arr(pf.annualized_return()),
        "sharpe_ratio": arr(pf.sharpe_ratio()),
        "sortino_ratio": arr(pf.sortino_ratio()),
        "calmar_ratio": arr(pf.calmar_ratio()),
        "max_drawdown_pct": arr(pf.max_drawdown()) * 100,
        "win_rate": arr(pf.trades.win_rate()),
        "profit_factor": arr(pf.trades.profit_factor()),
        "total_trades": arr(pf.trades.count()),
        "exposure_pct": arr(pf.position_coverage()) * 100,
        "alpha_pct": (total - bh) * 100,
        "final_value": arr(pf.final_value()),
    }
    out = []
    for j in range(len(total)):
        out.append(
            {k: (float(v[j]) if math.isfinite(float(v[j])) else None) for k, v in columns.items()}
        )
    return out


def assert_metrics_equal(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    for name, expected in theirs.items():
        got = ours[name]
        if expected is None:
            assert got is None, (name, got)
        else:
            assert got == pytest.approx(expected, rel=1e-9, abs=1e-9), (name, got, expected)


@pytest.fixture
def backtest_env(app: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """``backtest_env(chunk_delay_seconds=1)``: set QUARKBOT_BACKTESTS_* for the worker (it reads
    the environment) and the running app (its settings are replaced by ones read again)."""
    from quarkbot import plugin_settings
    from quarkbot_plugins.backtests.settings import BacktestsSettings

    def set_env(**values: Any) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"QUARKBOT_BACKTESTS_{name.upper()}", str(value))
        host = app.extensions["quarkbot"]
        host.plugin_settings["backtests"] = BacktestsSettings()
        plugin_settings.install(host.plugin_settings.values())

    return set_env
