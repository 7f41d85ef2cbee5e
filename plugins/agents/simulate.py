"""An agent backtest, bar by bar: after each bar closes the agent proposes through a context
fenced at that close, and the proposal trades at the close (all in on BUY, all out on SELL).

Pure Python over floats (no numpy): it runs in the worker, and the bench times it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from quarkbot_plugins.agents.contract import AgentType, BarView, Context, PortfolioView
from quarkbot_plugins.agents.runner import propose_safely

Progress = Callable[[int, int], Awaitable[None]]


@dataclass
class Book:
    cash: float
    quantity: float = 0.0
    peak: float = 0.0
    entry: float = 0.0
    round_trips: list[float] = field(default_factory=list)
    trades: list[dict[str, Any]] = field(default_factory=list)

    def value(self, price: float) -> float:
        return self.cash + self.quantity * price

    def view(self, price: float) -> PortfolioView:
        equity = self.value(price)
        self.peak = max(self.peak, equity)
        return PortfolioView(
            position=Decimal(repr(self.quantity)),
            avg_price=Decimal(repr(self.entry)),
            cash=Decimal(repr(self.cash)),
            equity=Decimal(repr(equity)),
            peak_equity=Decimal(repr(self.peak)),
        )


def _trade(book: Book, action: str, price: float, fees: float) -> float:
    """Apply the action; the quantity traded (0 when it changes nothing)."""
    if action == "BUY" and book.quantity == 0 and book.cash > 0:
        quantity = book.cash * (1 - fees) / price
        book.quantity, book.cash, book.entry = quantity, 0.0, price
        return quantity
    if action == "SELL" and book.quantity > 0:
        quantity = book.quantity
        book.cash += quantity * price * (1 - fees)
        book.round_trips.append(price * (1 - fees) ** 2 / book.entry - 1)
        book.quantity = 0.0
        return quantity
    return 0.0


def _record(book: Book, symbol: str, when: str, price: float, said: Any, fees: float) -> None:
    """The trades in the backtests plugin's shape (one per round trip: entry and exit), each
    with the agents' ``action``, ``reasoning`` and ``confidence`` (of the entry; the exit's as
    ``exit_reasoning`` and ``exit_confidence``)."""
    p = said.proposal
    if p.action == "BUY":
        book.trades.append({
            "symbol": symbol, "action": "BUY", "entry_time": when, "entry_price": price,
            "exit_time": None, "exit_price": None, "size": book.quantity, "pnl": 0.0,
            "return_pct": 0.0, "status": "open", "reasoning": p.reasoning,
            "confidence": p.confidence, "fees": book.quantity * price * fees,
        })  # fmt: skip
        return
    trade = book.trades[-1]
    pnl = trade["size"] * price * (1 - fees) - trade["size"] * trade["entry_price"]
    trade.update(exit_time=when, exit_price=price, status="closed", exit_reasoning=p.reasoning,
                 exit_confidence=p.confidence, pnl=pnl - trade["fees"],
                 return_pct=book.round_trips[-1] * 100)  # fmt: skip
    trade["fees"] += trade["size"] * price * fees


async def simulate(
    agent: AgentType,
    params: BaseModel,
    symbol: str,
    timeframe: str,
    step: timedelta,
    bars: Sequence[BarView],
    capital: float,
    fees: float = 0.0,
    progress: Progress | None = None,
    regime: Any = None,
) -> dict[str, Any]:
    """Decisions on every bar; ``{equity, trades, decisions, usage, metrics}``."""
    times = [bar.ts for bar in bars]
    book = Book(cash=capital, peak=capital)
    equity: list[dict[str, Any]] = []
    counts = {"BUY": 0, "SELL": 0, "HOLD": 0}
    usage = {"llm_calls": 0, "cached": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost": 0.0}
    every = max(1, len(bars) // 20)
    for index, bar in enumerate(bars):
        ctx = Context(symbol, timeframe, bar.ts + step, step, bars, times, book.view(bar.close))
        ctx.regime = regime
        said = await propose_safely(agent, ctx, params)
        _count(usage, said.usage)
        proposal = said.proposal
        counts[proposal.action] += 1
        if _trade(book, proposal.action, bar.close, fees):
            _record(book, symbol, ctx.as_of.isoformat(), bar.close, said, fees)
        equity.append(
            {
                "ts": ctx.as_of.isoformat(),
                "value": book.value(bar.close),
                "benchmark_price": bar.close,
            }
        )
        if progress is not None and (index + 1) % every == 0:
            await progress(index + 1, len(bars))
    return {
        "equity": equity,
        "trades": _marked(book, bars[-1].close if bars else 0.0),
        "decisions": counts,
        "usage": usage,
        "metrics": metrics(equity, book, capital, step),
    }


def _marked(book: Book, last: float) -> list[dict[str, Any]]:
    """The trades, an open one marked at the last close."""
    if book.trades and book.trades[-1]["status"] == "open":
        trade = book.trades[-1]
        trade["pnl"] = trade["size"] * (last - trade["entry_price"]) - trade["fees"]
        trade["return_pct"] = (last / trade["entry_price"] - 1) * 100
    return book.trades


def _count(total: dict[str, Any], one: dict[str, Any]) -> None:
    for name in ("llm_calls", "cached", "prompt_tokens", "completion_tokens"):
        total[name] += int(one.get(name, 0))
    total["cost"] += float(one.get("cost", 0.0))


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def metrics(
    equity: list[dict[str, Any]], book: Book, capital: float, step: timedelta
) -> dict[str, Any]:
    """Return, Sharpe (per-bar returns, annualised over 365 days), max drawdown, win rate of
    closed round trips, alpha vs holding the symbol."""
    values = [p["value"] for p in equity] or [capital]
    final = values[-1]
    total = (final / capital - 1) * 100
    prices = [p["benchmark_price"] for p in equity]
    hold = (prices[-1] / prices[0] - 1) * 100 if prices else 0.0
    returns = [b / a - 1 for a, b in itertools.pairwise(values) if a > 0]
    sharpe = None
    if len(returns) > 1:
        sd = math.sqrt(sum((r - sum(returns) / len(returns)) ** 2 for r in returns) / len(returns))
        per_year = 365 * 86400 / step.total_seconds()
        sharpe = _finite(sum(returns) / len(returns) / sd * math.sqrt(per_year)) if sd else None
    peak, worst = values[0], 0.0
    for value in values:
        peak = max(peak, value)
        worst = max(worst, (peak - value) / peak if peak > 0 else 0.0)
    trips = book.round_trips
    return {
        "total_return_pct": total,
        "sharpe_ratio": sharpe,
        "max_drawdown_pct": worst * 100,
        "win_rate": (sum(1 for t in trips if t > 0) / len(trips)) if trips else None,
        "alpha_pct": total - hold,
        "buy_hold_return_pct": hold,
        "final_value": final,
        "closed_trades": len(trips),
    }
