"""Risk routes under ``/api/v1/risk``. Thin: each validates, calls a service, returns; the
services raise the host's domain errors, which the host answers."""

from __future__ import annotations

from typing import Any

from quart import Blueprint
from quart_schema import tag, validate_querystring, validate_request, validate_response

from quarkbot.auth import current_identity, requires
from quarkbot.errors import ErrorBody, ValidationErrorBody
from quarkbot_plugins.risk import breakers, equity, limits, pdt_guard, sizing, tasks
from quarkbot_plugins.risk.schemas import (
    BreakerConfigIn,
    BreakerOut,
    BreakerPage,
    BreakerQuery,
    ExposureOut,
    ExposureQuery,
    KillSwitchIn,
    KillSwitchOut,
    Limits,
    LimitsOut,
    MetricsOut,
    MetricsQuery,
    PdtQuery,
    PdtStatusOut,
    PositionSizeOut,
    PositionSizeQuery,
)
from quarkbot_plugins.risk.trading_state import change_state, state_row

risk_bp = Blueprint("risk", __name__, url_prefix="/api/v1/risk")
TAGS = ["risk"]


# kill switch ------------------------------------------------------------------------------------
@risk_bp.get("/kill-switch")
@requires("viewer")
@tag(TAGS)
@validate_response(KillSwitchOut)
async def get_kill_switch() -> KillSwitchOut:
    """The trading state: ``ACTIVE``, ``REDUCING`` (only exposure-reducing orders pass) or
    ``HALTED`` (the kill switch); ``active`` is true unless the state is ``ACTIVE``."""
    return KillSwitchOut.model_validate(await state_row())


@risk_bp.post("/kill-switch")
@requires("admin")
@tag(TAGS)
@validate_request(KillSwitchIn)
@validate_response(KillSwitchOut)
@validate_response(ValidationErrorBody, 422)
@validate_response(ErrorBody, 409)
async def post_kill_switch(data: KillSwitchIn) -> KillSwitchOut:
    """Activate (``confirmation`` "KILL"), reduce ("REDUCE") or deactivate ("RESUME").

    Activation halts trading at once on every process: open orders are canceled through their
    brokers and new ones denied ``KILL_SWITCH_ACTIVE`` (checked again right before submit).
    ``reason`` is required to activate or reduce, optional to deactivate. Deactivating before
    ``cooldown_until`` is 409 with ``seconds_remaining``. Any other confirmation is 422 and
    changes nothing. Published on ``risk:alerts`` and audited.
    """
    row, canceled = await change_state(data.action, data.reason, current_identity().username)
    return KillSwitchOut.model_validate(row).model_copy(update={"canceled_orders": canceled})


# circuit breakers -------------------------------------------------------------------------------
@risk_bp.get("/circuit-breakers")
@requires("viewer")
@tag(TAGS)
@validate_querystring(BreakerQuery)
@validate_response(BreakerPage)
async def list_breakers(query_args: BreakerQuery) -> BreakerPage:
    """Every named circuit breaker with its settings and state (``closed``, ``open``,
    ``half_open``), in a fixed order; ``state`` filters."""
    return await breakers.list_breakers(query_args)


@risk_bp.put("/circuit-breakers/<name>")
@requires("admin")
@tag(TAGS)
@validate_request(BreakerConfigIn)
@validate_response(BreakerOut)
@validate_response(ErrorBody, 404)
async def configure_breaker(name: str, data: BreakerConfigIn) -> BreakerOut:
    """Change a breaker's settings (the fields given): ``enabled``, ``threshold``,
    ``window_seconds``, ``min_samples``, ``cooldown_seconds``, ``half_open``."""
    row = await breakers.configure_breaker(name, data.model_dump(exclude_none=True))
    return BreakerOut.model_validate(row)


@risk_bp.post("/circuit-breakers/<name>/reset")
@requires("admin")
@tag(TAGS)
@validate_response(BreakerOut)
@validate_response(ErrorBody, 404)
async def reset_breaker(name: str) -> BreakerOut:
    """Close a breaker and restart its running figures (peak, day start, loss streak) now."""
    row = await breakers.reset_breaker(name, current_identity().username)
    return BreakerOut.model_validate(row)


# limits -----------------------------------------------------------------------------------------
@risk_bp.get("/limits")
@requires("viewer")
@tag(TAGS)
@validate_response(LimitsOut)
async def get_limits() -> LimitsOut:
    """Position, portfolio, margin and drawdown limits; null means no limit."""
    return LimitsOut.of(*await limits.current_limits())


@risk_bp.put("/limits")
@requires("admin")
@tag(TAGS)
@validate_request(Limits)
@validate_response(LimitsOut)
@validate_response(ValidationErrorBody, 422)
async def put_limits(data: Limits) -> LimitsOut:
    """Replace the limits document (sections left out reset to no limit).

    Money limits are positive decimals in the base currency, ``max_leverage`` a ratio,
    ``max_margin_utilization`` a fraction (0, 1], ``max_drawdown_pct`` a percentage (0, 100];
    anything out of range is 422 and changes nothing.
    """
    return LimitsOut.of(*await limits.set_limits(data, current_identity().username))


# pdt, metrics, exposure, sizing -----------------------------------------------------------------
@risk_bp.get("/pdt-status")
@requires("viewer")
@tag(TAGS)
@validate_querystring(PdtQuery)
@validate_response(PdtStatusOut)
async def pdt_status(query_args: PdtQuery) -> PdtStatusOut:
    """The pattern-day-trader guard for an instrument class (default ``us_equity``): whether
    it is enabled, day trades used in the rolling 5 business days, and the equity threshold."""
    return await pdt_guard.pdt_status(query_args.instrument_class)


@risk_bp.get("/metrics")
@requires("viewer")
@tag(TAGS)
@validate_querystring(MetricsQuery)
@validate_response(MetricsOut)
async def metrics(query_args: MetricsQuery) -> dict[str, Any]:
    """Risk metrics of the daily equity history, as last computed by the worker.

    ``volatility`` (annualised), historical ``var_95``/``cvar_95`` (daily returns; negative is
    a loss), ``max_drawdown`` (<= 0), ``sharpe_ratio``, ``sortino_ratio``, ``calmar_ratio``.
    Computed by the ``risk.refresh_metrics`` job (vectorbt) and cached; a missing or stale
    cache queues a refresh and answers ``stale: true`` with the last values (or nulls).
    """
    return await tasks.current_metrics(current_identity().username)


@risk_bp.get("/exposure")
@requires("viewer")
@tag(TAGS)
@validate_querystring(ExposureQuery)
@validate_response(ExposureOut)
async def exposure(query_args: ExposureQuery) -> dict[str, Any]:
    """``{symbol: signed notional / equity, ..., "total": gross notional / equity}`` at the
    quote mids (decimal strings; null when equity is 0)."""
    return await equity.exposure()


@risk_bp.get("/position-size/<asset>")
@requires("viewer")
@tag(TAGS)
@validate_querystring(PositionSizeQuery)
@validate_response(PositionSizeOut)
@validate_response(ErrorBody, 404)
@validate_response(ErrorBody, 409)
async def position_size(asset: str, query_args: PositionSizeQuery) -> PositionSizeOut:
    """A size from recent bars: risk ``risk_per_trade_pct`` of equity with a stop
    ``atr_multiple`` x ATR(``atr_period``) away and a target ``reward_risk`` x the stop.

    ``max_size`` applies the position and portfolio limits, the cash for a spot buy, and with
    ``strategy_id`` that strategy's available budget; ``recommended_size`` is the risk-based
    size capped by ``max_size``, rounded down to the lot size. 409 ``NO_MARKET_DATA`` without
    enough bars.
    """
    return await sizing.position_size(asset, query_args)
