"""The backtest engine (worker side only: imports numpy, pandas and vectorbt).

- :func:`configure_numba` sets ``NUMBA_CACHE_DIR`` (before numba is imported);
- :func:`load_bars` reads one symbol's bars (``market_data.api.bar_rows``: one query), as floats;
- :func:`sweep` runs a type's signal function on many parameter sets (columns) and ONE
  ``vbt.Portfolio.from_signals`` over them, and returns every metric as an array per column;
- :func:`detail` recomputes one parameter set on every symbol: headline and per-symbol metrics,
  the equity curve and the trades.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

FREQS = {"1m": "1min", "5m": "5min", "15m": "15min", "30m": "30min", "1h": "1h", "4h": "4h"}
FREQS["1d"] = "1D"


def configure_numba(data_dir: Path | str) -> str:
    """``NUMBA_CACHE_DIR`` = ``<data dir>/numba-cache`` unless set; returns the one in force."""
    default = Path(data_dir) / "numba-cache"
    os.environ.setdefault("NUMBA_CACHE_DIR", str(default))
    path = os.environ["NUMBA_CACHE_DIR"]
    Path(path).mkdir(parents=True, exist_ok=True)
    return path


def freq_of(timeframe: str) -> str:
    return FREQS[timeframe]


async def load_bars(
    symbol: str, timeframe: str, start: datetime, end: datetime, max_bars: int
) -> Any:
    """Bars with ``start <= ts < end`` as a float DataFrame (ascending UTC index)."""
    import numpy as np
    import pandas as pd

    from quarkbot_plugins.market_data import api as market

    rows = await market.bar_rows(symbol, timeframe, start, end, max_bars)
    if not rows:
        return pd.DataFrame(
            columns=["open", "high", "low", "close", "volume"],
            index=pd.DatetimeIndex([], tz="UTC"),
            dtype=float,
        )
    ts, *columns = zip(*rows, strict=True)
    values = np.array(columns, dtype=object).astype(float).T
    index = pd.DatetimeIndex(pd.to_datetime(list(ts), utc=True), name="ts")
    return pd.DataFrame(values, index=index, columns=["open", "high", "low", "close", "volume"])


def _array(values: Any) -> Any:
    import numpy as np

    return np.atleast_1d(np.asarray(values, dtype=float))


def finite(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _signals(function: Any, bars: Any, params: Sequence[Mapping[str, Any]]) -> Any:
    import numpy as np

    signals = function(bars, [dict(p) for p in params])
    entries = np.asarray(signals.entries, dtype=bool).reshape(len(bars), len(params))
    exits = np.asarray(signals.exits, dtype=bool).reshape(len(bars), len(params))
    confidence = np.asarray(signals.confidence, dtype=float).reshape(len(bars), len(params))
    return signals, entries, exits, confidence


def _portfolio(
    close: Any, entries: Any, exits: Any, cash: float, fees: float, slip: float, freq: str
) -> Any:
    import vectorbt as vbt

    return vbt.Portfolio.from_signals(
        close, entries, exits, init_cash=cash, fees=fees, slippage=slip, freq=freq
    )


def portfolio_metrics(pf: Any, close: Any) -> dict[str, Any]:
    """Every metric of every column of ``pf``, as float arrays (vectorized, no per-column work)."""
    import numpy as np

    total_return = _array(pf.total_return())
    closes = np.asarray(close, dtype=float)
    buy_and_hold = closes[-1] / closes[0] - 1 if len(closes) else math.nan
    trades = pf.trades
    return {
        "total_return_pct": total_return * 100,
        "cagr": _array(pf.annualized_return()),
        "sharpe_ratio": _array(pf.sharpe_ratio()),
        "sortino_ratio": _array(pf.sortino_ratio()),
        "calmar_ratio": _array(pf.calmar_ratio()),
        "max_drawdown_pct": _array(pf.max_drawdown()) * 100,
        "win_rate": _array(trades.win_rate()),
        "profit_factor": _array(trades.profit_factor()),
        "total_trades": _array(trades.count()),
        "exposure_pct": _array(pf.position_coverage()) * 100,
        "alpha_pct": (total_return - buy_and_hold) * 100,
        "final_value": _array(pf.final_value()),
    }


def sweep(
    function: Any,
    bars_by_symbol: Mapping[str, Any],
    params: Sequence[Mapping[str, Any]],
    capital: float,
    fees: float,
    slippage: float,
    timeframe: str,
) -> dict[str, dict[str, Any]]:
    """``{symbol: {metric: array over params}}``: one from_signals per symbol over all columns."""
    cash = capital / len(bars_by_symbol)
    out: dict[str, dict[str, Any]] = {}
    for symbol, bars in bars_by_symbol.items():
        _, entries, exits, _ = _signals(function, bars, params)
        pf = _portfolio(bars["close"], entries, exits, cash, fees, slippage, freq_of(timeframe))
        out[symbol] = portfolio_metrics(pf, bars["close"])
    return out


def rows(
    metrics: Mapping[str, Mapping[str, Any]],
    indices: Sequence[int],
    params: Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """Plain row dicts (combination, symbol, params, metrics with null for non-finite values)."""
    out: list[dict[str, Any]] = []
    for symbol, columns in metrics.items():
        out += _symbol_rows(symbol, columns, indices, params)
    return out


def _symbol_rows(
    symbol: str,
    columns: Mapping[str, Any],
    indices: Sequence[int],
    params: Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    import numpy as np

    lists = {}
    for name, values in columns.items():
        if name == "total_trades":
            continue
        array = np.asarray(values, dtype=float)
        lists[name] = np.where(np.isfinite(array), array, np.nan).tolist()
    trades = np.nan_to_num(np.asarray(columns["total_trades"], dtype=float)).astype(int)
    out = []
    for j, index in enumerate(indices):
        row: dict[str, Any] = {
            "combination": index,
            "symbol": symbol,
            "params": dict(params[j]),
            "total_trades": int(trades[j]),
        }
        for name, values in lists.items():
            value = values[j]
            row[name] = None if value != value else value  # NaN -> None
        out.append(row)
    return out


def _headline(value: Any, capital: float, freq: str) -> dict[str, Any]:
    """Metrics of a summed equity curve (several symbols), from vectorbt's returns accessor."""
    import vectorbt as vbt  # noqa: F401 - registers the .vbt accessor

    returns = value.pct_change()
    returns.iloc[0] = value.iloc[0] / capital - 1
    accessor = returns.vbt.returns(freq=freq)
    return {
        "total_return_pct": (float(value.iloc[-1]) / capital - 1) * 100,
        "cagr": float(accessor.annualized()),
        "sharpe_ratio": float(accessor.sharpe_ratio()),
        "sortino_ratio": float(accessor.sortino_ratio()),
        "calmar_ratio": float(accessor.calmar_ratio()),
        "max_drawdown_pct": float(accessor.max_drawdown()) * 100,
        "final_value": float(value.iloc[-1]),
    }


def detail(
    function: Any,
    bars_by_symbol: Mapping[str, Any],
    params: Mapping[str, Any],
    capital: float,
    fees: float,
    slippage: float,
    timeframe: str,
) -> dict[str, Any]:
    """One parameter set on every symbol: ``{metrics, equity, trades}`` (JSON-able)."""
    freq = freq_of(timeframe)
    cash = capital / len(bars_by_symbol)
    per_symbol: dict[str, dict[str, Any]] = {}
    values = []
    trades: list[dict[str, Any]] = []
    for symbol, bars in bars_by_symbol.items():
        signals, entries, exits, confidence = _signals(function, bars, [params])
        pf = _portfolio(bars["close"], entries, exits, cash, fees, slippage, freq)
        per_symbol[symbol] = _one_column_metrics(pf, bars["close"])
        value = pf.value()
        values.append(value.iloc[:, 0] if value.ndim == 2 else value)
        trades += _trades(pf, bars, symbol, signals, confidence, params)
    first = next(iter(bars_by_symbol))
    if len(bars_by_symbol) == 1:
        headline, total = dict(per_symbol[first]), values[0]
    else:
        headline, total = _combined(values, per_symbol, capital, cash, freq)
    headline["per_symbol"] = per_symbol
    benchmark = bars_by_symbol[first]["close"].reindex(total.index).ffill()
    trades.sort(key=lambda t: (t["entry_time"], t["symbol"]))
    return {"metrics": headline, "equity": _equity(total, benchmark), "trades": trades}


def _one_column_metrics(pf: Any, close: Any) -> dict[str, Any]:
    import numpy as np

    columns = portfolio_metrics(pf, close)
    metrics: dict[str, Any] = {k: finite(v[0]) for k, v in columns.items()}
    metrics["total_trades"] = int(np.nan_to_num(columns["total_trades"][0]))
    return metrics


def _combined(
    values: list[Any],
    per_symbol: Mapping[str, Mapping[str, Any]],
    capital: float,
    cash: float,
    freq: str,
) -> tuple[dict[str, Any], Any]:
    """The headline metrics of several symbols (their summed equity curve; trade-based
    metrics averaged over the symbols that have them) and that curve."""
    import numpy as np
    import pandas as pd

    frame = pd.concat(values, axis=1).sort_index().ffill().fillna(cash)
    total = frame.sum(axis=1)
    headline = {k: finite(v) for k, v in _headline(total, capital, freq).items()}
    headline["total_trades"] = sum(m["total_trades"] for m in per_symbol.values())
    for name in ("win_rate", "profit_factor", "exposure_pct", "alpha_pct"):
        found = [m[name] for m in per_symbol.values() if m[name] is not None]
        headline[name] = finite(np.mean(found)) if found else None
    return headline, total


def _equity(total: Any, benchmark: Any) -> list[dict[str, Any]]:
    return [
        {"ts": _iso(ts), "value": finite(v), "benchmark_price": finite(b)}
        for ts, v, b in zip(total.index, total.to_numpy(), benchmark.to_numpy(), strict=True)
    ]


def _iso(ts: Any) -> str:
    return str(ts.isoformat()).replace("+00:00", "Z")


def _trades(
    pf: Any,
    bars: Any,
    symbol: str,
    signals: Any,
    confidence: Any,
    params: Mapping[str, Any],
) -> list[dict[str, Any]]:
    reasons = (signals.reason("entry", params), signals.reason("exit", params))
    return [_trade(record, bars.index, symbol, confidence, reasons) for record in pf.trades.values]


def _trade(
    record: Any, index: Any, symbol: str, confidence: Any, reasons: tuple[str, str]
) -> dict[str, Any]:
    entry_reason, exit_reason = reasons
    entry_idx, exit_idx = int(record["entry_idx"]), int(record["exit_idx"])
    closed = int(record["status"]) == 1
    return {
        "symbol": symbol,
        "entry_time": _iso(index[entry_idx]),
        "entry_price": finite(record["entry_price"]),
        "exit_time": _iso(index[exit_idx]) if closed else None,
        "exit_price": finite(record["exit_price"]) if closed else None,
        "size": finite(record["size"]),
        "pnl": finite(record["pnl"]),
        "return_pct": finite(record["return"] * 100),
        "duration_seconds": (index[exit_idx] - index[entry_idx]).total_seconds(),
        "status": "closed" if closed else "open",
        "reasoning": f"{entry_reason}; exit: {exit_reason}" if closed else entry_reason,
        "confidence": finite(confidence[entry_idx, 0]),
        "fees": finite(record["entry_fees"] + record["exit_fees"]),
    }
