"""The portfolio tests reuse the trading fixtures: instruments and quotes, users, the engine."""

from tests.trading.conftest import admin, engine, instruments, trader

__all__ = ["admin", "engine", "instruments", "trader"]
