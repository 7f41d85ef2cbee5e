"""What the order gate reads of the regime, cached per process against a version in Redis
(``gate_version``): each symbol's latest reading and the regimes' parameters. Every order check
needed a query for the reading (and one for the parameters when there is one); now it takes the
version in the order's MGET and queries only after a change. Whoever stores readings or
parameters calls ``gate_version.changed()`` after writing them."""

from __future__ import annotations

from quarkbot.cache_version import Version
from quarkbot_plugins.regime import gate_version, params
from quarkbot_plugins.regime.models import RegimeReading

_readings: dict[str, tuple[Version, RegimeReading | None]] = {}
_parameters: dict[str, tuple[Version, params.Parameters]] = {}


async def latest_reading(symbol: str) -> RegimeReading | None:
    """The symbol's latest reading (any timeframe), or None."""
    version = await gate_version.current()  # read before the query: a change after it
    cached = _readings.get(symbol)  # bumps past the version the copy is kept under
    if version is not None and cached is not None and cached[0] == version:
        return cached[1]
    reading = await RegimeReading.filter(symbol=symbol).order_by("-ts").first()
    if version is not None:
        _readings[symbol] = (version, reading)
    return reading


async def parameters(regime: str) -> params.Parameters:
    version = await gate_version.current()
    cached = _parameters.get(regime)
    if version is not None and cached is not None and cached[0] == version:
        return cached[1]
    value = await params.get(regime)
    if version is not None:
        _parameters[regime] = (version, value)
    return value
