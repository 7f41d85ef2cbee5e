"""Fits and walk-forward backfills (numeric queue: statsmodels is imported here, lazily)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError

from quarkbot.errors import Conflict
from quarkbot.plugin_settings import settings_of
from quarkbot_plugins.regime import core, registry, series
from quarkbot_plugins.regime.models import RegimeFit
from quarkbot_plugins.regime.settings import RegimeSettings


def _window(s: series.Series, upto: int, settings: RegimeSettings) -> int:
    """The first bar index of a fit through bar ``upto`` (expanding or rolling)."""
    if settings.window == "rolling":
        return max(0, upto + 1 - settings.fit_bars)
    return 0


async def fit_at(s: series.Series, upto: int, settings: RegimeSettings) -> RegimeFit:
    """The fit of the chosen model through bar ``upto``; a fit through that bar already stored
    is returned (a rerun fits nothing twice)."""
    model = settings.model
    custom = await registry.custom(model)
    if model != "markov" and custom is None:
        raise Conflict(f"No regime model {model!r} to fit", code="UNKNOWN_REGIME_MODEL")
    through = s.ts[upto]
    found = await RegimeFit.get_or_none(
        symbol=s.symbol, timeframe=s.timeframe, model=model, fitted_through=through
    )
    if found is not None:
        return found
    first = _window(s, upto, settings)
    if upto + 1 - first < settings.min_fit_bars:
        raise Conflict(
            f"{upto + 1 - first} bars; a fit needs at least {settings.min_fit_bars}",
            code="INSUFFICIENT_MARKET_DATA",
            minimum=settings.min_fit_bars,
        )
    if custom is not None:
        closes, volumes = s.closes[first : upto + 1], s.volumes[first : upto + 1]
        params, labels = await asyncio.to_thread(custom["fit"], closes, volumes)
        return await _store(s, first, upto, Fitted(model, dict(params), list(labels)))
    returns = core.scaled_returns(s.closes[first : upto + 1])
    fit = await asyncio.to_thread(_fit, returns, settings.k_regimes)
    labels = core.state_labels(fit.params, series.ppy(s.timeframe), settings.label_rules())
    fitted = Fitted("markov", fit.params.to_json(), labels, fit.loglike, fit.converged)
    return await _store(s, first, upto, fitted)


@dataclass
class Fitted:
    model: str
    params: dict[str, Any]
    labels: list[str]
    loglike: float | None = None
    converged: bool = True


def _fit(returns: list[float], k: int) -> Any:
    from quarkbot_plugins.regime.fitting import fit_markov

    return fit_markov(returns, k)


async def _store(s: series.Series, first: int, upto: int, fit: Fitted) -> RegimeFit:
    bad = [label for label in fit.labels if label not in core.LABELS]
    if bad or not fit.labels:
        raise Conflict(f"{fit.model} labelled its states {fit.labels}", code="BAD_REGIME_LABELS")
    for _attempt in range(5):
        last = (
            await RegimeFit.filter(symbol=s.symbol, timeframe=s.timeframe)
            .order_by("-version")
            .first()
        )
        try:
            return await RegimeFit.create(
                symbol=s.symbol,
                timeframe=s.timeframe,
                model=fit.model,
                version=(last.version if last else 0) + 1,
                k_regimes=len(fit.labels),
                params=fit.params,
                labels=fit.labels,
                data_start=s.ts[first],
                fitted_through=s.ts[upto],
                n_obs=upto - first,
                loglike=fit.loglike,
                converged=fit.converged,
            )
        except IntegrityError:  # a concurrent fit took the version, or stored this fit
            found = await RegimeFit.get_or_none(
                symbol=s.symbol, timeframe=s.timeframe, model=fit.model, fitted_through=s.ts[upto]
            )
            if found is not None:
                return found
    raise Conflict("could not store the fit", code="FIT_CONFLICT")


async def refit(symbol: str, timeframe: str) -> dict[str, Any]:
    """Fit through the latest bar (the scheduled refit)."""
    settings = settings_of(RegimeSettings)
    s = await series.load(symbol, timeframe)
    fit = await fit_at(s, len(s) - 1, settings)
    return _summary(fit)


async def backfill(
    symbol: str, timeframe: str, start: datetime | None = None, every: int | None = None
) -> list[dict[str, Any]]:
    """Walk-forward fits: through bar min_fit_bars - 1, then every ``every`` bars (default
    ``refit_every_bars``), each on the bars up to it only."""
    settings = settings_of(RegimeSettings)
    s = await series.load(symbol, timeframe)
    step = every or settings.refit_every_bars
    out = []
    for upto in range(settings.min_fit_bars - 1, len(s), step):
        if start is not None and s.ts[upto] < start:
            continue
        out.append(_summary(await fit_at(s, upto, settings)))
    return out


def _summary(fit: RegimeFit) -> dict[str, Any]:
    return {
        "model_version": f"{fit.model}-v{fit.version}",
        "fitted_through": fit.fitted_through.isoformat(),
        "labels": fit.labels,
        "n_obs": fit.n_obs,
    }
