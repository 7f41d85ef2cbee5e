"""The agent contract: a type with a name, a description, a parameter model and
``propose(context, params) -> Proposal`` over a time-fenced :class:`Context`.

Every read an agent makes goes through its context, which refuses anything after ``as_of``
(:class:`LookAhead`); the runner turns a refusal, or any other failure, into a HOLD with the
reason. Agents never place orders: they propose.
"""

from __future__ import annotations

import bisect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Action = Literal["BUY", "SELL", "HOLD"]
ACTIONS: tuple[str, ...] = ("BUY", "SELL", "HOLD")


class Proposal(BaseModel):
    """What an agent proposes for one symbol."""

    model_config = ConfigDict(extra="forbid")

    symbol: str = Field(min_length=1, max_length=32)
    action: Action
    confidence: int = Field(ge=0, le=100)
    reasoning: str = Field(min_length=1, max_length=8_000)
    size: Decimal | None = Field(None, gt=0)
    stop_loss: Decimal | None = Field(None, gt=0)
    take_profit: Decimal | None = Field(None, gt=0)
    horizon: str | None = Field(None, max_length=32)


def hold(symbol: str, reason: str) -> Proposal:
    """The safe answer: do nothing, saying why."""
    return Proposal(symbol=symbol, action="HOLD", confidence=0, reasoning=reason[:8_000])


class LookAhead(Exception):
    """A read of data after the context's ``as_of`` was refused."""


@dataclass(frozen=True)
class BarView:
    """One bar as agents see it (floats: indicators are arithmetic, not money)."""

    ts: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True)
class PortfolioView:
    """The account as of ``as_of``: position in the symbol, cash, equity and its peak."""

    position: Decimal = Decimal(0)
    avg_price: Decimal = Decimal(0)
    cash: Decimal = Decimal(0)
    equity: Decimal = Decimal(0)
    peak_equity: Decimal = Decimal(0)

    @property
    def exposure(self) -> float:
        """Position value / equity (0 without equity)."""
        return 0.0 if self.equity <= 0 else float(self.equity - self.cash) / float(self.equity)

    @property
    def drawdown(self) -> float:
        """Fall from the peak equity, as a fraction."""
        if self.peak_equity <= 0:
            return 0.0
        return max(0.0, float(self.peak_equity - self.equity) / float(self.peak_equity))


@dataclass
class Context:
    """A time-fenced view for one decision: ``symbol`` on ``timeframe`` as of ``as_of``.

    ``series`` holds bars ascending (it may hold later ones: a backtest shares one series);
    a bar is visible once it has closed (``ts + timeframe <= as_of``). ``quote_at`` gives the
    quote's time, ``regime`` a regime reading callable (None when the regime plugin is absent).
    """

    symbol: str
    timeframe: str
    as_of: datetime
    step: timedelta
    series: Sequence[BarView]
    times: Sequence[datetime]
    portfolio: PortfolioView = field(default_factory=PortfolioView)
    quote: tuple[datetime, Decimal] | None = None
    regime: Callable[[datetime], Awaitable[str | None]] | None = None
    reads: list[str] = field(default_factory=list)
    #: what LLM agents spent on this decision: model, prompt_tokens, completion_tokens, cost,
    #: calls, cached (filled in by the agents themselves)
    usage: dict[str, Any] = field(default_factory=dict)

    def _visible(self) -> int:
        # bars whose ts <= as_of - step (closed by as_of)
        return bisect.bisect_right(self.times, self.as_of - self.step)

    def _fence(self, when: datetime, what: str) -> None:
        if when > self.as_of:
            self.reads.append(f"refused {what} at {when.isoformat()}")
            raise LookAhead(
                f"look-ahead refused: {what} at {when.isoformat()} is after as_of "
                f"{self.as_of.isoformat()}"
            )

    def bars(self, count: int) -> list[BarView]:
        """The last ``count`` closed bars (fewer at the start of the history)."""
        end = self._visible()
        return list(self.series[max(0, end - count) : end])

    def closes(self, count: int) -> list[float]:
        return [bar.close for bar in self.bars(count)]

    def bar_at(self, ts: datetime) -> BarView:
        """The bar opened at ``ts``; refused (:class:`LookAhead`) unless it closed by as_of."""
        self._fence(ts + self.step, "bar")
        index = bisect.bisect_left(self.times, ts)
        if index >= len(self.times) or self.times[index] != ts:
            raise KeyError(f"no bar at {ts.isoformat()}")
        return self.series[index]

    def last_price(self) -> Decimal | None:
        """The quote (refused if stamped after as_of), else the last closed bar's close."""
        if self.quote is not None:
            self._fence(self.quote[0], "quote")
            return self.quote[1]
        closed = self.bars(1)
        return Decimal(str(closed[-1].close)) if closed else None

    async def regime_now(self) -> str | None:
        """The regime reading as of as_of, or None without the regime plugin."""
        return None if self.regime is None else await self.regime(self.as_of)


@dataclass(frozen=True)
class AgentType:
    """A registered agent type. ``propose`` is ``async (context, params) -> Proposal``;
    ``backend`` is ``offline`` (deterministic, no network) or ``llm``."""

    name: str
    description: str
    params: type[BaseModel]
    propose: Callable[[Context, Any], Awaitable[Proposal]] = field(compare=False)
    backend: str = "offline"

    def validate(self, values: dict[str, Any] | None) -> BaseModel:
        """The parameters checked (pydantic ValidationError when out of range)."""
        return self.params.model_validate(values or {})

    def schema(self) -> dict[str, Any]:
        return self.params.model_json_schema()
