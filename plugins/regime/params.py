"""The parameters of each regime (admins set them) and the regimes a strategy instance may
trade in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from quarkbot.errors import Invalid
from quarkbot_plugins.regime import gate_version
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
    await gate_version.changed()
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


async def strategy_extension(
    strategy_id: int | None, values: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """``allowed_regimes`` as a field of the strategy instance (``strategy_extensions``): read
    (``values`` None), checked (no id) or stored (the caller is the actor)."""
    if values is None:
        stored = await allowed_regimes(strategy_id) if strategy_id is not None else None
        return {"allowed_regimes": stored or []}
    if "allowed_regimes" not in values:
        return None
    regimes = values["allowed_regimes"]
    if (
        not isinstance(regimes, list)
        or len(regimes) > len(LABELS)
        or any(not isinstance(r, str) or r not in LABELS for r in regimes)
    ):
        loc = ["body", "extensions", "allowed_regimes"]
        raise Invalid.at(loc, f"a list of at most {len(LABELS)} of {', '.join(LABELS)}")
    if strategy_id is None:
        return {"allowed_regimes": [label for label in LABELS if label in regimes]}
    from quarkbot.auth import current_identity

    actor = current_identity().username
    return {"allowed_regimes": await set_allowed_regimes(strategy_id, regimes, actor)}
