"""The HTML report of a complete backtest: one self-contained page (plotly.js embedded).

plotly is imported here only, when a report is requested.
"""

from __future__ import annotations

import html
from typing import Any

from quarkbot_plugins.backtests.models import Backtest

METRIC_LABELS = {
    "total_return_pct": "Total return %",
    "cagr": "CAGR",
    "sharpe_ratio": "Sharpe ratio",
    "sortino_ratio": "Sortino ratio",
    "calmar_ratio": "Calmar ratio",
    "max_drawdown_pct": "Max drawdown %",
    "win_rate": "Win rate",
    "profit_factor": "Profit factor",
    "total_trades": "Trades",
    "exposure_pct": "Exposure %",
    "alpha_pct": "Alpha vs buy-and-hold (pp)",
    "final_value": "Final value",
}


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.4f}"
    return html.escape(str(value))


def _pnl(value: Any) -> str:
    return "-" if value is None else f"{value:.2f}"


def render(backtest: Backtest, sections: dict[str, Any] | None = None) -> str:
    """The page: a title, the period, parameters and capital, the metrics table, the chart, and
    the sections other plugins add (``backtest_report_sections``) as tables."""
    from plotly.offline import get_plotlyjs

    chart = _figure(backtest).to_html(full_html=False, include_plotlyjs=False)
    metrics = backtest.metrics or {}
    rows = "".join(
        f"<tr><th>{label}</th><td>{_fmt(metrics.get(key))}</td></tr>"
        for key, label in METRIC_LABELS.items()
    )
    title = html.escape(
        f"Backtest {backtest.id}: {backtest.strategy_name or backtest.strategy_type} "
        f"on {', '.join(backtest.symbols)} ({backtest.timeframe})"
    )
    params = html.escape(str(backtest.best_params or backtest.params))
    period = html.escape(f"{backtest.start.isoformat()} to {backtest.end.isoformat()}")
    trades = backtest.trades or []
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{title}</title>"
        "<style>body{font-family:sans-serif;margin:20px}table{border-collapse:collapse}"
        "th,td{border:1px solid #ccc;padding:4px 8px;text-align:left}</style>"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>'
        f"<h1>{title}</h1><p>{period}; parameters {params}; initial capital "
        f"{html.escape(str(backtest.initial_capital))}; {len(trades)} trades</p>"
        f"<table>{rows}</table>{chart}{_sections(sections or {})}</body></html>"
    )


def _sections(sections: dict[str, Any]) -> str:
    """Each section a table: a row per key, a column per field of its values (mappings)."""
    out = []
    for name, value in sections.items():
        items = value if isinstance(value, dict) else {}
        columns = list(dict.fromkeys(k for v in items.values() if isinstance(v, dict) for k in v))
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in ["", *columns])
        body = "".join(
            f"<tr><th>{html.escape(str(key))}</th>"
            + "".join(f"<td>{_fmt(row.get(c) if isinstance(row, dict) else None)}</td>"
                      for c in columns)
            + "</tr>"
            for key, row in items.items()
        )  # fmt: skip
        out.append(f"<h2>{html.escape(name)}</h2><table><tr>{head}</tr>{body}</table>")
    return "".join(out)


def _figure(backtest: Backtest) -> Any:
    """Equity vs buy-and-hold with the trades' entries and exits, over the drawdown."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    equity = backtest.equity or []
    ts = [p["ts"] for p in equity]
    values = [p["value"] for p in equity]
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        row_heights=[0.7, 0.3],
        vertical_spacing=0.05,
        subplot_titles=("Equity vs buy-and-hold", "Drawdown %"),
    )
    buy_hold = _buy_and_hold(
        float(backtest.initial_capital), [p["benchmark_price"] for p in equity]
    )
    fig.add_trace(go.Scatter(x=ts, y=values, name="Strategy", mode="lines"), row=1, col=1)
    fig.add_trace(go.Scatter(x=ts, y=buy_hold, name="Buy and hold", mode="lines"), row=1, col=1)
    for marker in _trade_markers(dict(zip(ts, values, strict=True)), backtest.trades or []):
        fig.add_trace(marker, row=1, col=1)
    fig.add_trace(
        go.Scatter(x=ts, y=_drawdown(values), name="Drawdown", fill="tozeroy", mode="lines"),
        row=2,
        col=1,
    )
    fig.update_layout(height=700, margin={"l": 40, "r": 20, "t": 40, "b": 30})
    return fig


def _buy_and_hold(capital: float, bench: list[Any]) -> list[float | None]:
    first_price = next((b for b in bench if b), None)
    return [capital * b / first_price if b and first_price else None for b in bench]


def _drawdown(values: list[Any]) -> list[float]:
    peak = 0.0
    drawdown = []
    for v in values:
        peak = max(peak, v or 0.0)
        drawdown.append(((v or 0.0) / peak - 1) * 100 if peak else 0.0)
    return drawdown


def _trade_markers(value_at: dict[str, Any], trades: list[dict[str, Any]]) -> list[Any]:
    """The entries (green triangles up) and exits (red triangles down) on the equity curve."""
    import plotly.graph_objects as go

    entries = [t for t in trades if t["entry_time"] in value_at]
    exits = [t for t in trades if t.get("exit_time") in value_at]
    return [
        go.Scatter(
            x=[t["entry_time"] for t in entries],
            y=[value_at[t["entry_time"]] for t in entries],
            mode="markers",
            name="Entry",
            marker={"symbol": "triangle-up", "size": 9, "color": "green"},
            text=[f"{t['symbol']} @ {t['entry_price']}" for t in entries],
        ),
        go.Scatter(
            x=[t["exit_time"] for t in exits],
            y=[value_at[t["exit_time"]] for t in exits],
            mode="markers",
            name="Exit",
            marker={"symbol": "triangle-down", "size": 9, "color": "red"},
            text=[f"{t['symbol']} @ {t['exit_price']} (PnL {_pnl(t.get('pnl'))})" for t in exits],
        ),
    ]
