"""Worker side of the strategies plugin: live signals, auto-trade, ML training and drift.

Imported lazily by the job wrappers in ``__init__.py`` (it imports pandas and numpy; the
signal functions and scikit-learn load on first use). Reference: ``docs/strategies.md``
("Live signals", "ML drift monitoring").
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import os
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from quarkbot import events
from quarkbot.jobs import JobSpec, once
from quarkbot.queue import JobQueue
from quarkbot_plugins.market_data import api as market
from quarkbot_plugins.strategies import service
from quarkbot_plugins.strategies.models import MlModel, Signal, StrategyInstance
from quarkbot_plugins.strategies.settings import StrategiesSettings, strategies_settings
from quarkbot_plugins.strategies.types import StrategyType, strategy_types
from quarkbot_plugins.trading import api as trading

log = logging.getLogger("quarkbot.strategies")

SIGNALS_CHANNEL = "execution:signals"
DRIFT_CHANNEL_PREFIX = "ml:drift:"
SIDES = {"entry": "buy", "exit": "sell"}
PAGE = 5000
FEATURE_WARMUP = 30  # bars before every ML feature is defined (SMA(20), RSI(14), 10-bar vol)
TIMEFRAME_SECONDS = {
    "1m": 60,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "4h": 14_400,
    "1d": 86_400,
}


# bars -------------------------------------------------------------------------------------------
async def _bars_from(symbol: str, timeframe: str, start: datetime | None, n: int) -> list[Any]:
    """The last ``n`` bars at or after ``start``, paging forward through ``get_bars``."""
    window: deque[Any] = deque(maxlen=n)
    while True:
        page = await market.get_bars(symbol, timeframe, start=start, limit=PAGE)
        window.extend(page)
        if len(page) < PAGE:
            return list(window)
        start = page[-1].ts + timedelta(microseconds=1)


async def last_bars(symbol: str, timeframe: str, n: int, now: datetime | None = None) -> list[Any]:
    """The last ``n`` stored bars of ``symbol``, ascending.

    market_data's API reads forward from a start only: look back over a window three times as
    long as ``n`` bars first (live data), and scan the whole history when that holds fewer
    (imported history that ended long ago).
    """
    now = now or datetime.now(UTC)
    span = timedelta(seconds=TIMEFRAME_SECONDS.get(timeframe, 86_400) * n * 3)
    recent = await _bars_from(symbol, timeframe, now - span, n)
    if len(recent) >= n:
        return recent
    return await _bars_from(symbol, timeframe, None, n)


def bars_frame(bars: list[Any]) -> pd.DataFrame:
    """Bars as the signal functions take them: float OHLCV on an ascending UTC index."""
    index = pd.DatetimeIndex([b.ts for b in bars], name="ts")
    if index.tz is None:
        index = index.tz_localize("UTC")
    else:
        index = index.tz_convert("UTC")
    return pd.DataFrame(
        {
            "open": [float(b.open) for b in bars],
            "high": [float(b.high) for b in bars],
            "low": [float(b.low) for b in bars],
            "close": [float(b.close) for b in bars],
            "volume": [float(b.volume) for b in bars],
        },
        index=index,
    )


def _column(values: Any, rows: int) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim == 2:
        array = array[:, 0]
    return array.reshape(rows)


def _utc(value: Any) -> datetime | None:
    if value is None:
        return None
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    result: datetime = stamp.tz_convert("UTC").to_pydatetime()
    return result


# bookkeeping ------------------------------------------------------------------------------------
@dataclass
class Summary:
    instances: int = 0
    evaluated: int = 0
    signals: int = 0
    orders: int = 0
    training_queued: int = 0
    drift_events: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def client_order_id(strategy_id: int, symbol: str, ts: datetime, side: str) -> str:
    """``sig-`` + 40 hex digits of sha256(instance|symbol|bar time|side): one order per signal."""
    raw = f"{strategy_id}|{symbol}|{ts.astimezone(UTC).isoformat()}|{side}"
    return "sig-" + hashlib.sha256(raw.encode()).hexdigest()[:40]


def _numba_cache(ctx: dict[str, Any]) -> None:
    """numba compiles once per machine: its cache goes in the data dir unless set."""
    settings = ctx.get("settings")
    if settings is not None:
        os.environ.setdefault("NUMBA_CACHE_DIR", str(settings.data_dir / "numba-cache"))


def _queue(ctx: dict[str, Any]) -> tuple[JobQueue, JobSpec]:
    from quarkbot_plugins.strategies import train_model

    queue = JobQueue(ctx["redis"], ctx["settings"].redis_prefix)
    return queue, JobSpec(service.TRAIN_JOB, "strategies", train_model)


# the cron job -----------------------------------------------------------------------------------
async def evaluate_signals(ctx: dict[str, Any]) -> dict[str, Any]:
    """Evaluate every active instance on each symbol's last ``lookback`` bars."""
    _numba_cache(ctx)
    settings = strategies_settings()
    types = strategy_types()
    summary = Summary()
    for instance in await StrategyInstance.filter(is_active=True).order_by("id"):
        summary.instances += 1
        stype = types.get(instance.type)
        if stype is None:
            summary.errors.append(f"{instance.id}: unknown type {instance.type!r}")
            continue
        for symbol in instance.symbols:
            try:
                await evaluate(ctx, instance, stype, symbol, settings, summary)
            except Exception as exc:  # one bad instance must not stop the others
                log.exception("strategy %s on %s failed", instance.id, symbol)
                summary.errors.append(f"{instance.id}/{symbol}: {type(exc).__name__}: {exc}")
    return summary.as_dict()


async def evaluate(
    ctx: dict[str, Any],
    instance: StrategyInstance,
    stype: StrategyType,
    symbol: str,
    settings: StrategiesSettings,
    summary: Summary,
) -> None:
    wanted = stype.lookback
    if instance.type == service.ML_TYPE:  # the drift window plus the features' warm-up
        wanted = max(wanted, settings.drift_window + FEATURE_WARMUP)
    now = datetime.now(UTC)
    bars = await last_bars(symbol, instance.timeframe, max(wanted, 2), now)
    if len(bars) < 2:
        return
    frame = bars_frame(bars)
    context: dict[str, Any] = {}
    model = None
    if instance.type == service.ML_TYPE:
        from quarkbot_plugins.strategies import ml

        wanted_key = ml.training_key(instance.parameters)
        row = await service.latest_model(
            instance.id,
            symbol,
            instance.timeframe,
            lambda params: ml.training_key(params) == wanted_key,
        )
        if row is None:
            # no model trained with the instance's timeframe and training parameters (none
            # yet, or they were changed): train one (one job per instance, symbol, training
            # parameters and last bar) and skip
            queue, spec = _queue(ctx)
            await service.request_training(
                instance,
                queue,
                spec,
                "strategies.evaluate_signals",
                [symbol],
                training_job_key(instance, wanted_key, bars[-1].ts),
            )
            summary.training_queued += 1
            return
        model = await asyncio.to_thread(ml.loads, row.blob)
        context["model"] = model
    # CPU-bound (and the first call may compile numba): off the worker's event loop
    signals = await asyncio.to_thread(_run_signal_function, stype, frame, instance, context)
    summary.evaluated += 1
    rows = len(frame)
    flags = {
        "entry": _column(signals.entries, rows).astype(bool),
        "exit": _column(signals.exits, rows).astype(bool),
    }
    confidence = _column(signals.confidence, rows).astype(float)
    for index in range(max(0, rows - settings.signal_max_age_bars), rows):
        for kind, flag in flags.items():
            if flag[index]:
                await record_signal(
                    instance, symbol, kind, bars[index], confidence[index], signals, summary, now
                )
    if model is not None:
        await check_drift(instance, symbol, model, frame, settings, summary)


def _run_signal_function(
    stype: StrategyType, frame: pd.DataFrame, instance: StrategyInstance, context: dict[str, Any]
) -> Any:
    return stype.load()(frame, [instance.parameters], **context)


def training_job_key(instance: StrategyInstance, key: Any, last_bar: datetime) -> str:
    """``<instance creation µs>-<last bar>-<8 hex of (timeframe, training key)>``.

    arq job ids are global (not under the installation's Redis prefix): the instance's creation
    time keeps a reused id (a fresh database) from colliding; the training parameters make a
    PATCH of them queue a new job for the same last bar. Bounded length: the whole job id
    ``train-<id>-<symbol>-<this>`` is at most 6 + 11 + 33 + 17 + 16 + 8 = 91 characters
    (``MlModel.job_id`` holds 100).
    """
    created = int(instance.created_at.timestamp() * 1_000_000)
    digest = hashlib.sha256(repr((instance.timeframe, tuple(key))).encode()).hexdigest()[:8]
    return f"{created}-{last_bar.astimezone(UTC).strftime('%Y%m%dT%H%M%S')}-{digest}"


def stale_reason(ts: datetime, timeframe: str, max_bars: int, now: datetime) -> str | None:
    """Why a signal on the bar starting at ``ts`` is too old to trade at ``now`` (it ended more
    than ``max_bars`` bar periods ago), or None."""
    period = timedelta(seconds=TIMEFRAME_SECONDS.get(timeframe, 86_400))
    ended = ts + period
    if now - ended <= period * max_bars:
        return None
    return (
        f"stale bar: {ts.isoformat()} ({timeframe}) ended {now - ended} ago, more than "
        f"{max_bars} bar period(s) (QUARKBOT_STRATEGIES_MAX_SIGNAL_AGE_BARS_TO_TRADE)"
    )


async def publish_signal(row: Signal) -> bool:
    """Publish the signal on ``execution:signals`` unless it was (``published_at``).

    The claim (``published_at`` set where null) and the publish share a transaction: a publish
    that fails rolls the claim back, so a later run publishes it; a concurrent run waits for the
    claim's row lock and then finds it set. A crash between the publish and the commit publishes
    it again on the next run: at least once, and once in every other case.
    """
    async with in_transaction():
        claimed = await Signal.filter(id=row.id, published_at__isnull=True).update(
            published_at=datetime.now(UTC)
        )
        if not claimed:
            return False
        await events.publish(SIGNALS_CHANNEL, "signal", service.signal_out(row))
    return True


async def record_signal(
    instance: StrategyInstance,
    symbol: str,
    kind: str,
    bar: Any,
    confidence: float,
    signals: Any,
    summary: Summary,
    now: datetime | None = None,
) -> Signal:
    """Store the signal once (unique per instance, symbol, bar time and side), publish it until
    it is published, and with ``auto_trade`` place its order (once: the client_order_id is the
    signal's) unless its bar is stale."""
    side = SIDES[kind]
    ts = bar.ts.astimezone(UTC)
    confidence = float(confidence) if math.isfinite(confidence) else 0.0
    try:
        row = await Signal.create(
            strategy_id=instance.id,
            strategy_name=instance.name,
            symbol=symbol,
            side=side,
            confidence=max(0.0, min(100.0, confidence)),
            reasoning=signals.reason(kind, instance.parameters),
            ts=ts,
            price=bar.close,
        )
        created = True
    except IntegrityError:
        row = await Signal.get(strategy_id=instance.id, symbol=symbol, ts=ts, side=side)
        created = False
    if created:
        summary.signals += 1
    if row.published_at is None:
        await publish_signal(row)
    if instance.auto_trade and row.order_status is None:
        settings = strategies_settings()
        reason = stale_reason(
            row.ts,
            instance.timeframe,
            settings.max_signal_age_bars_to_trade,
            now or datetime.now(UTC),
        )
        if reason is None:
            await trade(instance, row, summary)
        else:  # stored and published (dashboards), never traded
            await Signal.filter(id=row.id).update(order_status="skipped", order_error=reason)
            row.order_status, row.order_error = "skipped", reason
    return row


async def trade(instance: StrategyInstance, row: Signal, summary: Summary) -> None:
    """A market order of ``trade_quantity`` through the trading pipeline (every gate); the
    outcome (order id and status, or why there is none) is kept on the signal."""
    coid = client_order_id(instance.id, row.symbol, row.ts, row.side)
    outcome: dict[str, Any] = {"client_order_id": coid}
    # a sell placed before a crash has emptied the position: the order, not the position, says
    # whether this signal already traded
    placed = await trading.find_order(coid)
    if row.side == "sell" and placed is None and not await _long(row.symbol):
        outcome.update(order_status="skipped", order_error="no long position to sell")
    else:
        request = trading.OrderRequest(
            client_order_id=coid,
            symbol=row.symbol,
            side=row.side,
            type="market",
            quantity=Decimal(instance.trade_quantity),
            strategy_id=str(instance.id),
            strategy_name=instance.name,
        )
        try:
            order, created = await trading.place_order(request, actor=f"strategy:{instance.id}")
        except trading.OrderError as exc:
            detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
            outcome.update(order_status="error", order_error=f"{exc.code or exc.status}: {detail}")
        else:
            summary.orders += int(created)
            outcome.update(order_id=order.id, order_status=order.status)
            if order.deny_code:
                outcome["order_error"] = f"{order.deny_code}: {order.deny_reason}"
    await Signal.filter(id=row.id).update(**outcome)
    for key, value in outcome.items():
        setattr(row, key, value)


async def _long(symbol: str) -> bool:
    position = await trading.Position.get_or_none(
        account=trading.trading_settings().account, symbol=symbol
    )
    return position is not None and Decimal(position.quantity) > 0


# ML ---------------------------------------------------------------------------------------------
async def check_drift(
    instance: StrategyInstance,
    symbol: str,
    model: Any,
    frame: pd.DataFrame,
    settings: StrategiesSettings,
    summary: Summary,
) -> None:
    """Publish ``ml:drift:<id>-<symbol>`` when a feature's PSI (training bars vs the last
    ``drift_window`` bars) exceeds the threshold; at most once per bar and model."""
    from quarkbot_plugins.strategies import ml

    values = await asyncio.to_thread(ml.psi, model, frame, window=settings.drift_window)
    psi = {
        name: float(value) if math.isfinite(float(value)) else None
        for name, value in values.items()
    }
    threshold = settings.drift_psi_threshold
    drifted = sorted(name for name, value in psi.items() if value is not None and value > threshold)
    if not drifted:
        return
    name = f"{instance.id}-{symbol}"
    bar_ts = _utc(frame.index[-1])
    assert bar_ts is not None
    data = {
        "model": name,
        "strategy_id": instance.id,
        "symbol": symbol,
        "psi": psi,
        "drifted": drifted,
        "threshold": threshold,
        "bar_ts": bar_ts,
    }

    async def publish() -> None:
        await events.publish(f"{DRIFT_CHANNEL_PREFIX}{name}", "drift", data)

    done, _ = await once(f"strategies:drift:{name}:{bar_ts.isoformat()}", publish)
    summary.drift_events += int(done)


async def train_model(ctx: dict[str, Any], strategy_id: int, symbol: str) -> dict[str, Any]:
    """Train an ml_classifier instance's classifier on ``symbol``'s stored bars and keep it
    (a new ``MlModel`` row: the latest per instance and symbol is the one used)."""
    _numba_cache(ctx)
    from quarkbot_plugins.strategies import ml

    instance = await StrategyInstance.get_or_none(id=strategy_id)
    if instance is None or instance.type != service.ML_TYPE:
        return {"status": "skipped", "reason": "no ml_classifier strategy with this id"}
    bars = await last_bars(symbol, instance.timeframe, strategies_settings().train_max_bars)
    if not bars:
        return {"status": "skipped", "reason": f"no {instance.timeframe} bars of {symbol}"}
    frame = bars_frame(bars)
    try:
        trained = await asyncio.to_thread(ml.train, frame, dict(instance.parameters))
    except ml.NotEnoughData as exc:
        return {"status": "skipped", "reason": str(exc), "bars": len(bars)}
    blob = ml.dumps(trained)
    row = await MlModel.create(
        strategy_id=instance.id,
        symbol=symbol,
        timeframe=instance.timeframe,
        params=dict(instance.parameters),
        features=list(trained.feature_names),
        blob=blob,
        samples=int(trained.samples),
        train_accuracy=_finite(trained.train_accuracy),
        trained_from=_utc(trained.trained_from),
        trained_until=_utc(trained.trained_until),
        job_id=str(ctx.get("job_id") or "") or None,
    )
    return {
        "status": "trained",
        "model_id": row.id,
        "strategy_id": instance.id,
        "symbol": symbol,
        "samples": row.samples,
        "train_accuracy": row.train_accuracy,
        "trained_from": row.trained_from,
        "trained_until": row.trained_until,
        "bytes": len(blob),
    }


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None
