"""The analysis as the API answers it (``GET /api/v1/hedging/analysis``), with its commentary."""

from __future__ import annotations

from decimal import Decimal

from quarkbot.types import ZERO
from quarkbot_plugins.hedging import commentary
from quarkbot_plugins.hedging.analysis import Analysis, AssetView, analyze
from quarkbot_plugins.hedging.planner import HedgePlan
from quarkbot_plugins.hedging.schemas import (
    AdjustmentOut,
    AnalysisOut,
    AssetOut,
    FundingOut,
    RiskMetricsOut,
)


def adjustment_out(plan: HedgePlan) -> AdjustmentOut:
    asset = plan.base_asset if plan.base_asset in plan.assets else plan.assets[0]
    assert plan.price is not None
    return AdjustmentOut(
        asset=asset,
        action=plan.action(),
        priority=plan.priority,
        symbol=plan.symbol,
        side=plan.side,
        quantity=plan.quantity,
        notional=plan.notional,
        price=plan.price,
        assets=plan.assets,
        current_quantity=plan.current,
        target_quantity=plan.target_quantity,
    )


def _funding(plan: HedgePlan | None, share: Decimal) -> FundingOut | None:
    if plan is None or plan.funding is None:
        return None
    f = plan.funding
    return FundingOut(
        rate=f.rate,
        interval_hours=f.interval_hours,
        daily_cost_current=f.daily_cost_current * share,
        daily_cost_target=f.daily_cost_target * share,
    )


def asset_out(view: AssetView) -> AssetOut:
    book, plan, share, estimate = view.book, view.plan, view.share, view.choice.estimate
    hedge_quantity = plan.current * share if plan is not None else ZERO
    hedge_value = hedge_quantity * plan.price if plan is not None and plan.price else ZERO
    return AssetOut(
        asset=book.asset,
        spot_symbols=[h.symbol for h in book.spot],
        spot_quantity=book.quantity,
        spot_value=book.value,
        unpriced_symbols=book.unpriced,
        hedge_symbol=book.hedge_symbol,
        proxy=book.proxy,
        hedge_price=plan.price if plan is not None else None,
        hedge_quantity=hedge_quantity,
        hedge_value=hedge_value,
        hedge_ratio=-hedge_value / book.value if book.value else None,
        target_ratio=view.choice.ratio,
        ratio_source=view.choice.source,
        ratio_note=view.choice.note,
        beta=estimate.beta,
        correlation=estimate.correlation,
        observations=estimate.observations,
        target_hedge_quantity=plan.target_quantity * share if plan is not None else None,
        trade_quantity=plan.trade_quantity if plan is not None else ZERO,
        trade_notional=plan.notional if plan is not None else ZERO,
        priority=plan.priority if plan is not None else None,
        skip_reason=view.skip_reason,
        cooldown_until=plan.cooldown_until if plan is not None else None,
        funding=_funding(plan, share),
    )


def analysis_out(analysis: Analysis) -> AnalysisOut:
    """The analysis without its commentary (filled in by :func:`analysis_report`)."""
    net = analysis.spot_value + analysis.hedge_value
    target_net = analysis.spot_value + analysis.target_hedge_value
    return AnalysisOut(
        commentary="",
        commentary_source="",
        adjustments=[adjustment_out(plan) for plan in analysis.adjustments],
        current_net_exposure=analysis.fraction(net),
        target_net_exposure=analysis.fraction(target_net),
        risk_metrics=RiskMetricsOut(
            hedge_ratio=analysis.fraction(-analysis.hedge_value),
            correlation=analysis.correlation,
        ),
        spot_value=analysis.spot_value,
        hedge_value=analysis.hedge_value,
        net_exposure_value=net,
        method=analysis.method,
        as_of=analysis.as_of,
        assets=[asset_out(view) for view in analysis.assets],
    )


async def analysis_report(
    asset: str | None = None, method: str | None = None, target_ratio: Decimal | None = None
) -> AnalysisOut:
    analysis = await analyze([asset] if asset else None, method, target_ratio)
    out = analysis_out(analysis)
    context = out.model_dump(mode="json", exclude={"commentary", "commentary_source"})
    out.commentary, out.commentary_source = await commentary.from_agent(analysis, context)
    return out
