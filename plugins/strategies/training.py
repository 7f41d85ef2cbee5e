"""ML training: the ``strategies.train_model`` job, and the live job's request for a model.

A model is trained per (instance, symbol) on the instance's timeframe and training parameters
and stored as a new ``MlModel`` row; the newest matching one is the one used.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime
from typing import Any

from quarkbot.jobs import JobSpec
from quarkbot.plugin_settings import settings_of
from quarkbot.queue import JobQueue
from quarkbot_plugins.strategies import service
from quarkbot_plugins.strategies.bars import bars_frame, finite, last_bars, utc
from quarkbot_plugins.strategies.models import MlModel, StrategyInstance
from quarkbot_plugins.strategies.runtime import Summary, numba_cache
from quarkbot_plugins.strategies.settings import StrategiesSettings


async def model_for(
    ctx: dict[str, Any],
    instance: StrategyInstance,
    symbol: str,
    last_bar: datetime,
    summary: Summary,
) -> Any | None:
    """The model of (instance, symbol) trained with the instance's timeframe and training
    parameters; None when there is none yet (or they were changed), after queueing one training
    job per instance, symbol, training parameters and last bar."""
    from quarkbot_plugins.strategies import ml

    wanted_key = ml.training_key(instance.parameters)
    row = await service.latest_model(
        instance.id,
        symbol,
        instance.timeframe,
        lambda params: ml.training_key(params) == wanted_key,
    )
    if row is not None:
        return await asyncio.to_thread(ml.loads, row.blob)
    queue, spec = _queue(ctx)
    await service.request_training(
        instance,
        queue,
        spec,
        "strategies.evaluate_signals",
        [symbol],
        training_job_key(instance, wanted_key, last_bar),
    )
    summary.training_queued += 1
    return None


def _queue(ctx: dict[str, Any]) -> tuple[JobQueue, JobSpec]:
    # the worker's own queue (no app, no host here): the job as the host registers it
    from quarkbot_plugins.strategies import train_model

    queue = JobQueue(ctx["redis"], ctx["settings"].redis_prefix)
    return queue, JobSpec(service.TRAIN_JOB, "strategies", train_model)


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


async def train_model(ctx: dict[str, Any], strategy_id: int, symbol: str) -> dict[str, Any]:
    """Train an ml_classifier instance's classifier on ``symbol``'s stored bars and keep it
    (a new ``MlModel`` row: the latest per instance and symbol is the one used)."""
    numba_cache(ctx)
    from quarkbot_plugins.strategies import ml

    instance = await StrategyInstance.get_or_none(id=strategy_id)
    if instance is None or instance.type != service.ML_TYPE:
        return {"status": "skipped", "reason": "no ml_classifier strategy with this id"}
    max_bars = settings_of(StrategiesSettings).train_max_bars
    bars = await last_bars(symbol, instance.timeframe, max_bars)
    if not bars:
        return {"status": "skipped", "reason": f"no {instance.timeframe} bars of {symbol}"}
    try:
        trained = await asyncio.to_thread(ml.train, bars_frame(bars), dict(instance.parameters))
    except ml.NotEnoughData as exc:
        return {"status": "skipped", "reason": str(exc), "bars": len(bars)}
    blob = ml.dumps(trained)
    row = await _store(ctx, instance, symbol, trained, blob)
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


async def _store(
    ctx: dict[str, Any], instance: StrategyInstance, symbol: str, trained: Any, blob: bytes
) -> MlModel:
    return await MlModel.create(
        strategy_id=instance.id,
        symbol=symbol,
        timeframe=instance.timeframe,
        params=dict(instance.parameters),
        features=list(trained.feature_names),
        blob=blob,
        samples=int(trained.samples),
        train_accuracy=finite(trained.train_accuracy),
        trained_from=utc(trained.trained_from),
        trained_until=utc(trained.trained_until),
        job_id=str(ctx.get("job_id") or "") or None,
    )
