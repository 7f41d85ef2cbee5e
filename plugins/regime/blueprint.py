"""Regime routes under ``/api/v1/regime``. Thin: the work is in the service modules."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from quart import Blueprint
from quart_schema import tag, validate_querystring, validate_request, validate_response

from quarkbot.auth import current_identity, requires
from quarkbot.errors import ErrorBody, NotFound, ValidationErrorBody
from quarkbot.host import current_host
from quarkbot.plugin_settings import settings_of
from quarkbot_plugins.backtests import api as backtests
from quarkbot_plugins.regime import params, series, service
from quarkbot_plugins.regime.schemas import (
    AllowedRegimesIn,
    AllowedRegimesOut,
    AnalyzeIn,
    AnalyzeOut,
    BacktestRegimesOut,
    CurrentOut,
    FitIn,
    HistoryOut,
    HistoryQuery,
    ModelsOut,
    PairQuery,
    ParametersIn,
    ParametersOut,
    Queued,
)
from quarkbot_plugins.regime.settings import RegimeSettings
from quarkbot_plugins.strategies import api as strategies

regime_bp = Blueprint("regime", __name__, url_prefix="/api/v1/regime")
TAGS = ["regime"]


@regime_bp.get("/current")
@requires("viewer")
@tag(TAGS)
@validate_querystring(PairQuery)
@validate_response(CurrentOut)
@validate_response(ErrorBody, 404)
@validate_response(ValidationErrorBody, 422)
async def current(query_args: PairQuery) -> dict[str, Any]:
    """The latest reading (of a symbol and timeframe, or of any) and its regime's parameters."""
    return await service.current(query_args.symbol, query_args.timeframe)


@regime_bp.get("/history")
@requires("viewer")
@tag(TAGS)
@validate_querystring(HistoryQuery)
@validate_response(HistoryOut)
@validate_response(ErrorBody, 404)
@validate_response(ValidationErrorBody, 422)
async def history(query_args: HistoryQuery) -> dict[str, Any]:
    """Regime segments over the last ``hours`` (default 24) or ``start``/``end``."""
    q = query_args
    start, end = service.window(q.hours, q.start, q.end)
    return await service.history(q.symbol, q.timeframe, start, end)


@regime_bp.post("/analyze")
@requires("viewer")
@tag(TAGS)
@validate_request(AnalyzeIn)
@validate_response(AnalyzeOut)
@validate_response(Queued, 202)
@validate_response(ErrorBody, 404)
@validate_response(ErrorBody, 409)
@validate_response(ValidationErrorBody, 422)
async def analyze(data: AnalyzeIn) -> Any:
    """The regime of the last ``lookback_hours`` of stored bars: at once (200) up to
    ``analyze_direct_max_bars`` bars, else a job (202; its result under /api/v1/jobs/{id})."""
    md = data.market_data
    bars = service.check_lookback(md.lookback_hours, md.timeframe)
    if bars <= settings_of(RegimeSettings).analyze_direct_max_bars:
        return await service.analyze(md.symbol, md.timeframe, bars)
    await series.known_symbol(md.symbol)
    job_id = await current_host().enqueue(
        "regime.analyze", md.symbol, md.timeframe, bars, by=current_identity().username
    )
    return Queued(job_id=job_id or "", bars=bars), 202


@regime_bp.get("/models")
@requires("viewer")
@tag(TAGS)
@validate_response(ModelsOut)
async def models() -> dict[str, Any]:
    """The regime models (``register_regime_models``), the active one and each pair's fit."""
    return await service.models()


@regime_bp.post("/fits")
@requires("admin")
@tag(TAGS)
@validate_request(FitIn)
@validate_response(Queued, 202)
@validate_response(ErrorBody, 404)
@validate_response(ValidationErrorBody, 422)
async def queue_fit(data: FitIn) -> tuple[Queued, int]:
    """Queue a fit (numeric queue) through the latest bar, or a walk-forward backfill (202)."""
    await series.known_symbol(data.symbol)
    host, who = current_host(), current_identity().username
    if data.backfill:
        job_id = await host.enqueue(
            "regime.backfill", data.symbol, data.timeframe, every=data.every, by=who
        )
    else:
        job_id = await host.enqueue("regime.fit", data.symbol, data.timeframe, by=who)
    return Queued(job_id=job_id or "", bars=0), 202


@regime_bp.get("/parameters")
@requires("viewer")
@tag(TAGS)
@validate_response(ParametersOut)
async def get_parameters() -> dict[str, Any]:
    """What each regime allows: volatility threshold, leverage multiplier, position limit."""
    return {k: asdict(v) for k, v in (await params.get_all()).items()}


@regime_bp.put("/parameters")
@requires("admin")
@tag(TAGS)
@validate_request(ParametersIn)
@validate_response(ParametersOut)
@validate_response(ValidationErrorBody, 422)
async def put_parameters(data: ParametersIn) -> dict[str, Any]:
    """Set the parameters of the regimes given (admins); out-of-range values are 422."""
    values = {regime: params.Parameters(**p.model_dump()) for regime, p in data if p is not None}
    stored = await params.put(values, current_identity().username)
    return {k: asdict(v) for k, v in stored.items()}


async def _visible_strategy(strategy_id: int) -> Any:
    instance = await strategies.get_visible_strategy(strategy_id, current_identity())
    if instance is None:
        raise NotFound("Strategy not found")
    return instance


@regime_bp.get("/strategies/<int:strategy_id>")
@requires("viewer")
@tag(TAGS)
@validate_response(AllowedRegimesOut)
@validate_response(ErrorBody, 404)
async def get_allowed(strategy_id: int) -> AllowedRegimesOut:
    """The regimes the instance's signals may trade in (empty: every regime)."""
    await _visible_strategy(strategy_id)
    allowed = await params.allowed_regimes(strategy_id) or []
    return AllowedRegimesOut(strategy_id=strategy_id, allowed_regimes=allowed)


@regime_bp.put("/strategies/<int:strategy_id>")
@requires("trader")
@tag(TAGS)
@validate_request(AllowedRegimesIn)
@validate_response(AllowedRegimesOut)
@validate_response(ErrorBody, 404)
@validate_response(ValidationErrorBody, 422)
async def put_allowed(strategy_id: int, data: AllowedRegimesIn) -> AllowedRegimesOut:
    """Set ``allowed_regimes``: signals in other regimes are stored and published, not traded."""
    await _visible_strategy(strategy_id)
    who = current_identity().username
    allowed = await params.set_allowed_regimes(strategy_id, list(data.allowed_regimes), who)
    return AllowedRegimesOut(strategy_id=strategy_id, allowed_regimes=allowed)


@regime_bp.get("/backtests/<int:backtest_id>")
@requires("viewer")
@tag(TAGS)
@validate_response(BacktestRegimesOut)
@validate_response(ErrorBody, 404)
@validate_response(ErrorBody, 409)
async def backtest_regimes(backtest_id: int) -> dict[str, Any]:
    """A finished backtest's return, Sharpe, drawdown and trades per regime (causal readings)."""
    identity = current_identity()
    found = await backtests.Backtest.get_or_none(id=backtest_id)
    if found is None or not (identity.allows("admin") or found.created_by == identity.username):
        raise NotFound("Backtest not found")
    return await service.backtest_regimes(found)
