"""``quarkbot data ...``: market-data commands (added through ``register_commands``)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from quarkbot.types import TIMEFRAMES

if TYPE_CHECKING:  # the domain (and the ORM) is imported when a command runs, not at start-up
    from quarkbot_plugins.market_data.errors import RowError
    from quarkbot_plugins.market_data.schemas import BarIn
    from quarkbot_plugins.market_data.service import BarValidator


@click.group("data")
def data() -> None:
    """Market data: import bars."""


def _count_rows(path: Path) -> int:
    with path.open("rb") as handle:
        return max(0, sum(1 for line in handle if line.strip()) - 1)


def _rows(path: Path) -> Iterator[tuple[int, Any]]:
    from quarkbot_plugins.market_data import service

    with path.open(encoding="utf-8-sig", newline="") as handle:
        yield from service.iter_csv(handle)


def _validate_file(path: Path) -> BarValidator:
    """A :class:`BarValidator` that has seen every row of ``path`` (with a progress bar)."""
    from quarkbot_plugins.market_data import service

    validator = service.BarValidator()
    try:
        with click.progressbar(length=_count_rows(path), label="Validating", show_pos=True) as bar:
            for row, raw in _rows(path):
                validator.check(row, raw)
                bar.update(1)
    except service.ImportRejected as exc:
        validator.errors.extend(exc.errors)
    if not validator.errors and not validator.rows:
        validator.errors.append(
            service.RowError(None, None, "there are no bars to import", "empty")
        )
    return validator


def _valid_bars(path: Path) -> Iterator[BarIn]:
    """The bars of a file validated before: parsed again rather than held in memory."""
    from quarkbot_plugins.market_data import service

    check = service.BarValidator()
    for row, raw in _rows(path):
        bar = check.check(row, raw)
        if bar is None:  # the file changed while we were reading it
            raise service.ImportRejected(check.errors)
        yield bar


def _echo_problems(errors: list[RowError]) -> None:
    for error in errors:
        click.echo(f"  {error.describe()}", err=True)


async def _run_import(path: Path, symbol: str, timeframe: str) -> int:
    """Validate the whole file (streaming), then import it in one transaction; the exit code."""
    from quarkbot_plugins.market_data import service

    if await service.get_instrument_record(symbol) is None:
        click.echo(f"quarkbot: unknown instrument {symbol!r}; create it first", err=True)
        return 1
    try:
        validator = _validate_file(path)
    except UnicodeDecodeError as exc:
        click.echo(f"quarkbot: {path} is not UTF-8 text ({exc.reason})", err=True)
        return 1
    if validator.errors:
        bad_rows = {error.row for error in validator.errors}
        click.echo(
            f"{path}: {len(validator.errors)} problem(s) in {len(bad_rows)} row(s); "
            "nothing was imported:",
            err=True,
        )
        _echo_problems(validator.errors)
        return 1
    with click.progressbar(length=validator.rows, label="Importing", show_pos=True) as bar:
        try:
            result = await service.import_bars(
                symbol, timeframe, _valid_bars(path), progress=bar.update
            )
        except service.ImportRejected as exc:
            changed = f"quarkbot: {path} changed during the import; nothing was imported"
            click.echo(changed, err=True)
            _echo_problems(exc.errors)
            return 1
    click.echo(
        f"{symbol} {timeframe}: received {result.received}, inserted {result.inserted}, "
        f"skipped_existing {result.skipped_existing}"
    )
    return 0


async def _with_database(body: Callable[[], Awaitable[int]]) -> int:
    from quarkbot import db
    from quarkbot.settings import Settings

    async with db.database(Settings()):
        return await body()


@data.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
@click.option("--symbol", required=True, help="A known instrument, e.g. AAPL or BTC-USD.")
@click.option("--timeframe", required=True, type=click.Choice(TIMEFRAMES), help="Bar size.")
def import_command(file: Path, symbol: str, timeframe: str) -> None:
    """Import OHLCV bars from a CSV export (no size limit; all or nothing).

    The CSV needs a header with a date column (Date, Datetime, Time, Timestamp or an unnamed
    first column) and Open, High, Low, Close, Volume. Every bad row is listed (by line number)
    and nothing is imported; the exit code is then 1. Bars already stored are kept.
    """
    code = asyncio.run(_with_database(lambda: _run_import(file, symbol, timeframe)))
    sys.exit(code)
