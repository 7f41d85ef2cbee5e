"""Running an agent: any failure (a refused look-ahead read, an exception, invalid output)
becomes a HOLD with the reason; the time taken and what was spent are measured."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from quarkbot_plugins.agents.contract import AgentType, Context, LookAhead, Proposal, hold


@dataclass
class Said:
    """A proposal and how it came about."""

    proposal: Proposal
    latency_ms: float = 0.0
    error: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)


async def propose_safely(agent: AgentType, ctx: Context, params: BaseModel) -> Said:
    """``agent.propose`` on ``ctx``; never raises (HOLD with the reason instead)."""
    started = time.perf_counter()
    error = None
    try:
        proposal = await agent.propose(ctx, params)
        if proposal.symbol != ctx.symbol:
            raise ValueError(f"proposal for {proposal.symbol}, asked for {ctx.symbol}")
    except LookAhead as exc:
        error = str(exc)
        proposal = hold(ctx.symbol, f"{agent.name}: {exc}")
    except (ValidationError, ValueError, KeyError, ArithmeticError, TypeError) as exc:
        error = f"{type(exc).__name__}: {exc}"
        proposal = hold(ctx.symbol, f"{agent.name} failed: {error}")
    latency = (time.perf_counter() - started) * 1000
    return Said(proposal, round(latency, 3), error, dict(ctx.usage))


def input_hash(agent: str, params: BaseModel, ctx: Context, window: int = 50) -> str:
    """sha256 of what the decision may depend on: agent, parameters, the symbol, as_of, the last
    ``window`` closed bars and the portfolio view."""
    bars = [(b.ts.isoformat(), b.open, b.high, b.low, b.close, b.volume) for b in ctx.bars(window)]
    pf = ctx.portfolio
    payload = {
        "agent": agent,
        "params": params.model_dump(mode="json"),
        "symbol": ctx.symbol,
        "timeframe": ctx.timeframe,
        "as_of": ctx.as_of.isoformat(),
        "bars": bars,
        "portfolio": [str(pf.position), str(pf.cash), str(pf.equity), str(pf.peak_equity)],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
