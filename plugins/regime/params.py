"""The parameters of each regime (admins set them) and the regimes a strategy instance may
trade in."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from quarkbot_plugins.regime.core import LABELS
from quarkbot_plugins.regime.models import RegimeParameter, StrategyRegimes


@dataclass(frozen=True)
class Parameters:
    volatility_threshold: float  # annualized volatility above which exposure may not grow
    leverage_multiplier: float  # x risk's max_leverage (gross / equity)
    position_limit: float  # a position's notional / equity, at most


#: used until an admin sets a regime's parameters
DEFAULTS: dict[str, Parameters] = {
    "BULL": Parameters(2.0, 1.0, 1.0),
    "SIDEWAYS": Parameters(2.0, 1.0, 1.0),
    "BEAR": Parameters(1.5, 0.75, 0.5),
    "HIGH_VOL": Parameters(1.0, 0.5, 0.25),
}


async def get_all() -> dict[str, Parameters]:
    stored = {row.regime: row for row in await RegimeParameter.all()}
    out = {}
    for label in LABELS:
        row = stored.get(label)
        out[label] = (
            Parameters(row.volatility_threshold, row.leverage_multiplier, row.position_limit)
            if row is not None
            else DEFAULTS[label]
        )
    return out


async def get(regime: str) -> Parameters:
    return (await get_all())[regime]


async def put(values: dict[str, Parameters], actor: str) -> dict[str, Parameters]:
    """Set the parameters of the regimes given (the others keep theirs)."""
    for regime, p in values.items():
        await RegimeParameter.update_or_create(
            defaults={**asdict(p), "updated_by": actor}, regime=regime
        )
    return await get_all()


async def allowed_regimes(strategy_id: int) -> list[str] | None:
    row = await StrategyRegimes.get_or_none(strategy_id=strategy_id)
    return list(row.allowed_regimes) if row is not None and row.allowed_regimes else None


async def set_allowed_regimes(strategy_id: int, regimes: list[str], actor: str) -> list[str]:
    """An empty list removes the restriction."""
    if not regimes:
        await StrategyRegimes.filter(strategy_id=strategy_id).delete()
        return []
    ordered = [label for label in LABELS if label in set(regimes)]
    await StrategyRegimes.update_or_create(
        defaults={"allowed_regimes": ordered, "updated_by": actor}, strategy_id=strategy_id
    )
    return ordered
