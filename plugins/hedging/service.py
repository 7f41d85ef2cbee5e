"""The hedging use cases, with no HTTP in them: execute the analysis' adjustments, close the
hedges this plugin opened, the auto-hedge run, and reading executions back."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from quarkbot import audit
from quarkbot.errors import Conflict
from quarkbot.pagination import get_or_404
from quarkbot.plugin_settings import settings_of
from quarkbot_plugins.hedging.analysis import Analysis, analyze
from quarkbot_plugins.hedging.closing import close_specs
from quarkbot_plugins.hedging.execution import dry_run, fingerprint, replay, report, run
from quarkbot_plugins.hedging.models import HedgeExecution
from quarkbot_plugins.hedging.orders import LegSpec
from quarkbot_plugins.hedging.report import adjustment_out
from quarkbot_plugins.hedging.schemas import CloseIn, ExecuteIn, ExecutionOut, SkippedOut
from quarkbot_plugins.hedging.settings import HedgingSettings

log = logging.getLogger("quarkbot.hedging")
SYSTEM_ACTOR = "hedging"


def legs_of(analysis: Analysis) -> list[LegSpec]:
    return [
        LegSpec(adjustment_out(p).asset, p.symbol, p.side, p.quantity, version=p.version)
        for p in analysis.adjustments
    ]


def skipped_of(analysis: Analysis) -> list[SkippedOut]:
    """Every instrument or asset left alone, and why (on-target ones are not listed)."""
    found = []
    for plan in analysis.plans.values():
        if plan.skip_reason not in (None, "on_target"):
            until = plan.cooldown_until.isoformat() if plan.cooldown_until else None
            found.append(
                SkippedOut(
                    symbol=plan.symbol,
                    assets=plan.assets,
                    reason=str(plan.skip_reason),
                    detail=f"until {until}" if until else None,
                )
            )
    for view in analysis.assets:
        if view.skip_reason in ("no_hedge_instrument", "insufficient_bars"):
            found.append(
                SkippedOut(
                    symbol=view.book.hedge_symbol,
                    assets=[view.book.asset],
                    reason=str(view.skip_reason),
                    detail=view.choice.note,
                )
            )
    return found


def _plan(analysis: Analysis | None, skipped: list[SkippedOut]) -> dict[str, Any]:
    adjustments = [] if analysis is None else analysis.adjustments
    return {
        "adjustments": [adjustment_out(p).model_dump(mode="json") for p in adjustments],
        "skipped": [s.model_dump(mode="json") for s in skipped],
    }


def request_of(data: ExecuteIn | CloseIn) -> dict[str, Any]:
    return data.model_dump(mode="json", exclude={"dry_run", "idempotency_key"})


async def execute(data: ExecuteIn, actor: str) -> ExecutionOut:
    """Turn the adjustments into orders; ``dry_run`` previews them; a key makes it once-only."""
    request_hash = fingerprint("execute", request_of(data))
    if not data.dry_run:
        replayed = await replay(data.idempotency_key, request_hash)
        if replayed is not None:
            return replayed
    analysis = await analyze(data.assets, data.method, data.target_ratio)
    specs, skipped = legs_of(analysis), skipped_of(analysis)
    if data.dry_run:
        return await dry_run("execute", specs, skipped, actor)
    out, _ = await run(
        "execute", specs, _plan(analysis, skipped), actor, data.idempotency_key, request_hash
    )
    return out


async def close(data: CloseIn, actor: str) -> ExecutionOut:
    """Unwind the hedge legs this plugin opened (reduce-only), once per idempotency key."""
    request_hash = fingerprint("close", request_of(data))
    if not data.dry_run:
        replayed = await replay(data.idempotency_key, request_hash)
        if replayed is not None:
            return replayed
    specs, skipped = await close_specs(data.assets)
    if data.dry_run:
        return await dry_run("close", specs, skipped, actor)
    out, _ = await run(
        "close", specs, _plan(None, skipped), actor, data.idempotency_key, request_hash
    )
    return out


async def _audit(out: ExecutionOut) -> None:
    """A system change (no request behind it) goes to the audit log as an EVENT row."""
    try:
        await audit.append(
            audit.AuditEntry(
                actor=SYSTEM_ACTOR,
                actor_type="system",
                method="EVENT",
                path=f"/api/v1/hedging/executions/{out.execution_id}",
                status=200,
                request_id=uuid.uuid4().hex,
                action=f"hedging.auto_hedge:{out.status}",
            )
        )
    except Exception:
        log.exception("could not audit hedging execution %s", out.execution_id)


async def auto_hedge(job_id: str) -> dict[str, Any]:
    """Keep each asset within the band around its target; off unless the setting is on.

    Keyed by the job id, so a rerun of the same job returns its first execution; the cooldown
    and the working orders counted as hedge keep two runs from hedging the same gap twice.
    """
    if not settings_of(HedgingSettings).auto_hedge:
        return {"enabled": False, "orders": 0}
    analysis = await analyze(auto=True)
    specs = legs_of(analysis)
    if not specs:
        return {"enabled": True, "orders": 0, "execution_id": None}
    key = f"auto:{job_id}"
    plan = _plan(analysis, skipped_of(analysis))
    try:
        out, completed = await run("auto", specs, plan, SYSTEM_ACTOR, key, fingerprint("auto", {}))
    except Conflict as exc:  # another execution hedged meanwhile: the next run sees its orders
        return {"enabled": True, "orders": 0, "execution_id": None, "status": exc.code}
    if completed:
        await _audit(out)
    return {
        "enabled": True,
        "orders": len(out.executed_trades),
        "execution_id": out.execution_id,
        "status": out.status,
    }


async def execution(uid: str) -> ExecutionOut:
    found = await get_or_404(HedgeExecution, "Hedge execution not found", uid=uid)
    return await report(found)
