"""Risk routes under ``/api/v1/risk``. Thin: the logic lives in ``service.py``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import RootModel
from quart import Blueprint
from quart_schema import tag, validate_querystring, validate_request, validate_response

from quarkbot import hooks
from quarkbot.auth import current_identity, requires
from quarkbot.errors import ErrorBody, ValidationErrorBody
from quarkbot.host import current_host
from quarkbot.http_errors import ApiError
from quarkbot_plugins.risk import service, tasks
from quarkbot_plugins.risk.schemas import (
    BREAKER_NAMES,
    BreakerConfigIn,
    BreakerOut,
    BreakerPage,
    BreakerQuery,
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
    format_decimal,
)
from quarkbot_plugins.risk.settings import risk_settings

risk_bp = Blueprint("risk", __name__, url_prefix="/api/v1/risk")
TAGS = ["risk"]


class ExposureOut(RootModel[dict[str, str | None]]):
    """Each open position's signed notional / equity, and ``total`` (gross / equity)."""


def _error(exc: service.RiskError) -> ApiError:
    return ApiError(exc.status, exc.detail, **exc.extra)


# kill switch ------------------------------------------------------------------------------------
@risk_bp.get("/kill-switch")
@requires("viewer")
@tag(TAGS)
@validate_response(KillSwitchOut)
async def get_kill_switch() -> dict[str, Any]:
    """The trading state: ``ACTIVE``, ``REDUCING`` (only exposure-reducing orders pass) or
    ``HALTED`` (the kill switch); ``active`` is true unless the state is ``ACTIVE``."""
    row = await service.state_row()
    return service.state_out(row)


@risk_bp.post("/kill-switch")
@requires("admin")
@tag(TAGS)
@validate_request(KillSwitchIn)
@validate_response(KillSwitchOut)
@validate_response(ValidationErrorBody, 422)
@validate_response(ErrorBody, 409)
async def post_kill_switch(data: KillSwitchIn) -> dict[str, Any]:
    """Activate (``confirmation`` "KILL"), reduce ("REDUCE") or deactivate ("RESUME").

    Activation halts trading at once on every process: open orders are canceled through their
    brokers and new ones denied ``KILL_SWITCH_ACTIVE`` (checked again right before submit).
    Deactivating before ``cooldown_until`` is 409 with ``seconds_remaining``. Any other
    confirmation is 422 and changes nothing. Published on ``risk:alerts`` and audited.
    """
    try:
        row, canceled = await service.change_state(
            data.action, data.reason, current_identity().username
        )
    except service.RiskError as exc:
        raise _error(exc) from exc
    return service.state_out(row, canceled)


# circuit breakers -------------------------------------------------------------------------------
def _known(name: str) -> None:
    if name not in BREAKER_NAMES:
        raise ApiError(404, f"Unknown circuit breaker {name!r}; known: {', '.join(BREAKER_NAMES)}")


@risk_bp.get("/circuit-breakers")
@requires("viewer")
@tag(TAGS)
@validate_querystring(BreakerQuery)
@validate_response(BreakerPage)
async def list_breakers(query_args: BreakerQuery) -> dict[str, Any]:
    """Every named circuit breaker with its settings and state (``closed``, ``open``,
    ``half_open``), in a fixed order; ``state`` filters."""
    rows = await service.ensure_breakers()
    if query_args.state is not None:
        rows = [b for b in rows if b.state == query_args.state]
    page = rows[query_args.offset : query_args.offset + query_args.limit]
    return {
        "items": [service.breaker_out(b) for b in page],
        "total": len(rows),
        "limit": query_args.limit,
        "offset": query_args.offset,
    }


@risk_bp.put("/circuit-breakers/<name>")
@requires("admin")
@tag(TAGS)
@validate_request(BreakerConfigIn)
@validate_response(BreakerOut)
async def configure_breaker(name: str, data: BreakerConfigIn) -> dict[str, Any]:
    """Change a breaker's settings (the fields given): ``enabled``, ``threshold``,
    ``window_seconds``, ``min_samples``, ``cooldown_seconds``, ``half_open``."""
    _known(name)
    row = await service.configure_breaker(name, data.model_dump(exclude_none=True))
    return service.breaker_out(row)


@risk_bp.post("/circuit-breakers/<name>/reset")
@requires("admin")
@tag(TAGS)
@validate_response(BreakerOut)
async def reset_breaker(name: str) -> dict[str, Any]:
    """Close a breaker and restart its running figures (peak, day start, loss streak) now."""
    _known(name)
    row = await service.reset_breaker(name, current_identity().username)
    return service.breaker_out(row)


# limits -----------------------------------------------------------------------------------------
def _limits_out(limits: Limits, row: Any) -> dict[str, Any]:
    return {
        **limits.model_dump(),
        "updated_by": row.limits_updated_by if row is not None else None,
        "updated_at": row.limits_updated_at if row is not None else None,
    }


@risk_bp.get("/limits")
@requires("viewer")
@tag(TAGS)
@validate_response(LimitsOut)
async def get_limits() -> dict[str, Any]:
    """Position, portfolio, margin and drawdown limits; null means no limit."""
    limits, row = await service.current_limits()
    return _limits_out(limits, row)


@risk_bp.put("/limits")
@requires("admin")
@tag(TAGS)
@validate_request(Limits)
@validate_response(LimitsOut)
@validate_response(ValidationErrorBody, 422)
async def put_limits(data: Limits) -> dict[str, Any]:
    """Replace the limits document (sections left out reset to no limit).

    Money limits are positive decimals in the base currency, ``max_leverage`` a ratio,
    ``max_margin_utilization`` a fraction (0, 1], ``max_drawdown_pct`` a percentage (0, 100];
    anything out of range is 422 and changes nothing.
    """
    limits, row = await service.set_limits(data, current_identity().username)
    return _limits_out(limits, row)


# pdt, metrics, exposure, sizing -----------------------------------------------------------------
@risk_bp.get("/pdt-status")
@requires("viewer")
@tag(TAGS)
@validate_querystring(PdtQuery)
@validate_response(PdtStatusOut)
async def pdt_status(query_args: PdtQuery) -> dict[str, Any]:
    """The pattern-day-trader guard for an instrument class (default ``us_equity``): whether
    it is enabled, day trades used in the rolling 5 business days, and the equity threshold."""
    return await service.pdt_status(query_args.instrument_class)


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
    cached = await tasks.cached_metrics()
    settings = risk_settings()
    computed_at = datetime.fromisoformat(cached["computed_at"]) if cached else None
    stale = computed_at is None or (
        (service.now_utc() - computed_at).total_seconds() > settings.metrics_max_age_seconds
    )
    job_id = None
    if stale:
        job_id, _queued = await current_host().trigger(
            "risk.refresh_metrics", current_identity().username
        )
    base: dict[str, Any] = cached or {
        "as_of": None,
        "window": settings.metrics_window_days,
        "observations": 0,
        "periods_per_year": settings.metrics_periods_per_year,
        "implementation": "vectorbt.returns",
    }
    return {
        "volatility": None,
        "var_95": None,
        "cvar_95": None,
        "max_drawdown": None,
        "sharpe_ratio": None,
        "sortino_ratio": None,
        "calmar_ratio": None,
        **base,
        "computed_at": computed_at,
        "stale": stale,
        "refresh_job_id": job_id,
    }


@risk_bp.get("/exposure")
@requires("viewer")
@tag(TAGS)
@validate_querystring(ExposureQuery)
@validate_response(ExposureOut)
async def exposure(query_args: ExposureQuery) -> dict[str, Any]:
    """``{symbol: signed notional / equity, ..., "total": gross notional / equity}`` at the
    quote mids (decimal strings; null when equity is 0)."""
    return {
        k: (format_decimal(v) if v is not None else None)
        for k, v in (await service.exposure()).items()
    }


@risk_bp.get("/position-size/<asset>")
@requires("viewer")
@tag(TAGS)
@validate_querystring(PositionSizeQuery)
@validate_response(PositionSizeOut)
@validate_response(ErrorBody, 404)
async def position_size(asset: str, query_args: PositionSizeQuery) -> dict[str, Any]:
    """A size from recent bars: risk ``risk_per_trade_pct`` of equity with a stop
    ``atr_multiple`` x ATR(``atr_period``) away and a target ``reward_risk`` x the stop.

    ``max_size`` applies the position and portfolio limits, the cash for a spot buy, and with
    ``strategy_id`` that strategy's available budget; ``recommended_size`` is the risk-based
    size capped by ``max_size``, rounded down to the lot size.
    """
    q = query_args
    budget_available = None
    if q.strategy_id is not None:
        budget_available = await _budget_available(asset, q.strategy_id)
    try:
        return await service.position_size(
            asset,
            risk_per_trade_pct=q.risk_per_trade_pct,
            atr_multiple=q.atr_multiple,
            reward_risk=q.reward_risk,
            atr_period=q.atr_period,
            timeframe=q.timeframe,
            side=q.side,
            strategy_id=q.strategy_id,
            budget_available=budget_available,
        )
    except service.RiskError as exc:
        raise _error(exc) from exc


async def _budget_available(symbol: str, strategy_id: str) -> Any:
    """The strategy's available budget in the instrument's quote currency, when the budget
    plugin is loaded (through its public ``api`` module)."""
    loaded = {info.name for info in hooks.current_manager().plugins()}
    if "budget" not in loaded:
        return None
    from quarkbot_plugins.budget import api as budget
    from quarkbot_plugins.market_data import api as market

    instrument = await market.get_instrument(symbol)
    if instrument is None:
        return None
    return await budget.available(strategy_id, instrument.quote_currency)
