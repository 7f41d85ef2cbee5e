"""`quarkbot data import` as a real subprocess against the test database."""

import asyncio
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from quarkbot_plugins.market_data.models import BarRecord


async def quarkbot(
    database_url: str, data_dir: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("QUARKBOT_") or key.startswith("QUARKBOT_TEST_")
    }
    env.update(QUARKBOT_DATABASE_URL=database_url, QUARKBOT_DATA_DIR=str(data_dir))
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "quarkbot", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_cli_import(app, create_instrument, database_url, tmp_path, backtesting_csv):
    await create_instrument()
    goog = str(backtesting_csv("GOOG"))

    done = await quarkbot(
        database_url, tmp_path, "data", "import", goog, "--symbol", "GOOG", "--timeframe", "1d"
    )
    assert done.returncode == 0, done.stderr
    assert "Validating" in done.stdout and "Importing" in done.stdout  # progress bars
    assert "GOOG 1d: received 2148, inserted 2148, skipped_existing 0" in done.stdout
    assert await BarRecord.filter(symbol="GOOG", timeframe="1d").count() == 2148
    first = await BarRecord.filter(symbol="GOOG").order_by("ts").first()
    assert first is not None and first.close == Decimal("100.34")

    bad = tmp_path / "bad.csv"
    bad.write_text(
        "Date,Open,High,Low,Close,Volume\n"
        "2030-01-02,10,11,9,10,1\n"
        "2030-01-03,10,9,11,10,1\n"
        "2030-01-04,10,11,9,nan,1\n"
        "2030-01-04,10,11,9,10,1\n"
    )
    failed = await quarkbot(
        database_url, tmp_path, "data", "import", str(bad), "--symbol", "GOOG", "--timeframe", "1d"
    )
    assert failed.returncode == 1
    assert "3 problem(s) in 3 row(s); nothing was imported" in failed.stderr
    assert "line 3, high: high 9 is below low 11" in failed.stderr
    assert "line 4, close: Input should be a finite number" in failed.stderr
    assert "line 5, ts: ts 2030-01-04T00:00:00Z repeats the ts of row 4" in failed.stderr
    assert await BarRecord.all().count() == 2148  # line 2 was fine, yet nothing was imported

    unknown = await quarkbot(
        database_url, tmp_path, "data", "import", goog, "--symbol", "NOPE", "--timeframe", "1d"
    )
    assert unknown.returncode == 1
    assert "unknown instrument 'NOPE'" in unknown.stderr
    assert await BarRecord.all().count() == 2148
