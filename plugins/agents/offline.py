"""The offline agents: no network, deterministic. ``technical`` (indicators voting with
reasons), ``risk_aware`` (exposure, drawdown, volatility, regime when installed) and
``committee`` (members' votes combined with weights, every member's word in the reasoning)."""

from __future__ import annotations

import itertools
import statistics
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from quarkbot_plugins.agents.contract import AgentType, Context, Proposal, hold


class TechnicalParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fast: int = Field(5, ge=2, le=200)
    slow: int = Field(20, ge=3, le=500)
    rsi_period: int = Field(14, ge=2, le=200)
    rsi_low: float = Field(30, ge=1, le=50)
    rsi_high: float = Field(70, ge=50, le=99)
    momentum_period: int = Field(10, ge=1, le=500)
    min_votes: int = Field(2, ge=1, le=3, description="Net votes needed to act.")

    @model_validator(mode="after")
    def _fast_below_slow(self) -> TechnicalParams:
        if self.fast >= self.slow:
            raise ValueError("fast must be below slow")
        return self


def rsi(closes: list[float], period: int) -> float:
    gains = losses = 0.0
    for before, after in zip(closes[-period - 1 : -1], closes[-period:], strict=True):
        change = after - before
        gains, losses = gains + max(change, 0.0), losses + max(-change, 0.0)
    if losses == 0:
        return 100.0
    return 100.0 - 100.0 / (1.0 + gains / losses)


def _votes(closes: list[float], p: TechnicalParams) -> list[tuple[int, str]]:
    fast = sum(closes[-p.fast :]) / p.fast
    slow = sum(closes[-p.slow :]) / p.slow
    trend = (1, "above") if fast > slow else (-1, "below") if fast < slow else (0, "at")
    votes = [(trend[0], f"SMA{p.fast} {fast:.4f} is {trend[1]} SMA{p.slow} {slow:.4f}")]
    level = rsi(closes, p.rsi_period)
    rsi_vote = 1 if level < p.rsi_low else -1 if level > p.rsi_high else 0
    zone = {1: "oversold", -1: "overbought", 0: "neutral"}[rsi_vote]
    votes.append((rsi_vote, f"RSI{p.rsi_period} {level:.1f} ({zone})"))
    roc = closes[-1] / closes[-1 - p.momentum_period] - 1.0
    votes.append((1 if roc > 0 else -1 if roc < 0 else 0, f"momentum {roc * 100:+.2f}%"))
    return votes


async def technical(ctx: Context, p: TechnicalParams) -> Proposal:
    need = max(p.slow, p.rsi_period + 1, p.momentum_period + 1)
    closes = ctx.closes(need)
    if len(closes) < need:
        return hold(ctx.symbol, f"not enough history: {len(closes)} of {need} bars")
    votes = _votes(closes, p)
    net = sum(v for v, _ in votes)
    action = "BUY" if net >= p.min_votes else "SELL" if net <= -p.min_votes else "HOLD"
    confidence = round(100 * abs(net) / len(votes)) if action != "HOLD" else 100 - 33 * abs(net)
    said = "; ".join(f"{'+' if v > 0 else '-' if v < 0 else '='} {why}" for v, why in votes)
    return Proposal(
        symbol=ctx.symbol,
        action=action,
        confidence=max(0, min(100, confidence)),
        reasoning=f"net vote {net:+d} of {len(votes)}: {said}",
    )


class RiskParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_exposure: float = Field(0.8, gt=0, le=1)
    max_drawdown: float = Field(0.15, gt=0, lt=1)
    trend_period: int = Field(20, ge=2, le=500)
    max_volatility: float = Field(0.05, gt=0, le=1, description="Stdev of bar returns.")
    risk_off_regimes: list[str] = Field(default_factory=lambda: ["bear", "high_vol", "crisis"])


def _risk_off(ctx: Context, p: RiskParams, regime: str | None, vol: float) -> str | None:
    if ctx.portfolio.drawdown > p.max_drawdown:
        return f"drawdown {ctx.portfolio.drawdown:.1%} over the {p.max_drawdown:.0%} limit"
    if regime is not None and any(tag in regime.lower() for tag in p.risk_off_regimes):
        return f"regime {regime!r} is risk-off"
    if vol > p.max_volatility:
        return f"volatility {vol:.2%} over {p.max_volatility:.2%}"
    return None


async def risk_aware(ctx: Context, p: RiskParams) -> Proposal:
    closes = ctx.closes(p.trend_period + 1)
    if len(closes) < p.trend_period + 1:
        return hold(ctx.symbol, f"not enough history: {len(closes)} of {p.trend_period + 1}")
    returns = [b / a - 1.0 for a, b in itertools.pairwise(closes)]
    vol = statistics.pstdev(returns)
    regime = await ctx.regime_now()
    holding = ctx.portfolio.position > 0
    seen = f"exposure {ctx.portfolio.exposure:.1%}, volatility {vol:.2%}, regime {regime or 'n/a'}"
    off = _risk_off(ctx, p, regime, vol)
    if off is not None:
        action = "SELL" if holding else "HOLD"
        return Proposal(symbol=ctx.symbol, action=action, confidence=90, reasoning=f"{off}; {seen}")
    mean = sum(closes[-p.trend_period :]) / p.trend_period
    gap = closes[-1] / mean - 1.0
    confidence = max(1, min(100, round(50 + abs(gap) * 1000)))
    if gap > 0 and ctx.portfolio.exposure < p.max_exposure:
        why = f"price {gap:+.2%} over SMA{p.trend_period}, exposure within {p.max_exposure:.0%}"
        return Proposal(symbol=ctx.symbol, action="BUY", confidence=confidence, reasoning=why)
    if gap < 0 and holding:
        why = f"price {gap:+.2%} under SMA{p.trend_period} while holding"
        return Proposal(symbol=ctx.symbol, action="SELL", confidence=confidence, reasoning=why)
    return Proposal(
        symbol=ctx.symbol, action="HOLD", confidence=50, reasoning=f"no edge ({gap:+.2%}); {seen}"
    )


class Member(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent: str = Field(min_length=1, max_length=64)
    weight: float = Field(1.0, gt=0, le=100)
    params: dict[str, Any] = Field(default_factory=dict)


class CommitteeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    members: list[Member] = Field(
        default_factory=lambda: [Member(agent="technical"), Member(agent="risk_aware")],
        min_length=1,
        max_length=10,
    )
    threshold: float = Field(0.25, gt=0, le=1, description="Weighted score needed to act.")

    @model_validator(mode="after")
    def _known_members(self) -> CommitteeParams:
        from quarkbot_plugins.agents.registry import agent_types

        known = agent_types()
        for member in self.members:
            found = known.get(member.agent)
            if found is None or found.name == "committee":
                raise ValueError(f"unknown member agent {member.agent!r}")
            found.validate(member.params)
        return self


SIGN = {"BUY": 1, "SELL": -1, "HOLD": 0}


async def committee(ctx: Context, p: CommitteeParams) -> Proposal:
    from quarkbot_plugins.agents.registry import agent_types
    from quarkbot_plugins.agents.runner import propose_safely

    known = agent_types()
    score, lines = 0.0, []
    for member in p.members:
        agent = known[member.agent]
        said = await propose_safely(agent, ctx, agent.validate(member.params))
        score += member.weight * SIGN[said.proposal.action] * said.proposal.confidence / 100
        lines.append(
            f"{member.agent} (weight {member.weight:g}): {said.proposal.action} "
            f"{said.proposal.confidence} - {said.proposal.reasoning}"
        )
    score /= sum(m.weight for m in p.members)
    action = "BUY" if score >= p.threshold else "SELL" if score <= -p.threshold else "HOLD"
    confidence = round(abs(score) * 100) if action != "HOLD" else round((1 - abs(score)) * 100)
    text = f"committee score {score:+.3f} (threshold {p.threshold:g})\n" + "\n".join(lines)
    return Proposal(symbol=ctx.symbol, action=action, confidence=confidence, reasoning=text)


BUILTIN_TYPES = (
    AgentType("technical", "SMA cross, RSI and momentum vote; net votes decide.", TechnicalParams,
              technical),
    AgentType("risk_aware", "Trend within exposure, drawdown, volatility and regime limits.",
              RiskParams, risk_aware),
    AgentType("committee", "Weighted votes of member agents; reasoning lists each member.",
              CommitteeParams, committee),
)  # fmt: skip
