"""The newcomer's path, for real: a fresh virtualenv with exactly what `make run` installs,
`quarkbot serve` on an empty data dir, healthy with its workers, then `quarkbot demo`: a fill
arrives on /ws/trades and the demo's parameter sweep completes with a report. A second
`quarkbot demo` changes nothing.

Slow (the install, then numba's first compile in the numeric worker); the only such test.
The install step is the Makefile's own (`make VENV=... <venv>/.installed-run`); pip reuses
its wheel cache. Every process is stopped by its own handle; loopback only.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import websockets

from .helpers import clean_env, serving, wait_for, workers_ok

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(2400)]

ROOT = Path(__file__).resolve().parents[2]


def _make_run_install(venv: Path) -> None:
    started = time.monotonic()
    result = subprocess.run(
        ["make", "-C", str(ROOT), f"VENV={venv}", f"{venv}/.installed-run"],
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )
    print(f"make's run install took {time.monotonic() - started:.0f} s")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]


async def _first_fill(ws_url: str, token: str, seconds: float) -> dict:
    async with websockets.connect(ws_url, open_timeout=30) as ws:
        await ws.send(json.dumps({"type": "auth", "token": token}))
        deadline = asyncio.get_running_loop().time() + seconds
        while True:
            left = deadline - asyncio.get_running_loop().time()
            message = json.loads(await asyncio.wait_for(ws.recv(), max(left, 0.1)))
            if message.get("type") == "fill":
                return message


def _demo(quarkbot: Path, env: dict[str, str], workdir: Path) -> str:
    result = subprocess.run(
        [str(quarkbot), "demo"], env=env, cwd=workdir, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_a_new_user_runs_the_demo_on_a_fresh_install(tmp_path):
    venv = tmp_path / "venv"
    _make_run_install(venv)
    quarkbot = venv / "bin" / "quarkbot"
    workdir = tmp_path / "home"
    workdir.mkdir()
    env = clean_env(workdir / "var")
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)

    with serving(env, workdir, quarkbot=str(quarkbot), start_timeout=300) as served:
        served.wait_health(lambda h: h["status"] == "ok" and workers_ok(h), 1200)
        token = served.token()
        headers = {"Authorization": f"Bearer {token}"}
        demo_env = dict(env, QUARKBOT_PORT=served.base_url.rsplit(":", 1)[1])

        async def watch_and_run() -> tuple[dict, str]:
            ws_url = served.base_url.replace("http://", "ws://") + "/ws/trades"
            watcher = asyncio.create_task(_first_fill(ws_url, token, 600))
            await asyncio.sleep(1)  # subscribed before the demo starts trading
            output = await asyncio.to_thread(_demo, quarkbot, demo_env, workdir)
            return await watcher, output

        fill, output = asyncio.run(watch_and_run())
        print(output)
        assert fill["channel"] == "trades"
        assert fill["data"]["symbol"] in ("ACME", "GLOBEX", "INITECH")
        assert "created ACME, GLOBEX, INITECH, BTC-USD, BTC-PERP, EUR-USD" in output

        def sweep_done() -> dict | None:
            page = httpx.get(f"{served.base_url}/api/v1/backtests", headers=headers).json()
            items = page["items"]
            assert [item["status"] for item in items if item["status"] == "failed"] == []
            return items[0] if items and items[0]["status"] == "complete" else None

        backtest = wait_for("the demo's sweep", sweep_done, 1200, served.log)
        report = httpx.get(
            f"{served.base_url}/api/v1/backtests/{backtest['id']}/report", headers=headers
        )
        assert report.status_code == 200, report.text[:500]

        positions = httpx.get(f"{served.base_url}/api/v1/positions", headers=headers).json()
        assert positions["total"] >= 1

        # a second run changes nothing
        again = _demo(quarkbot, demo_env, workdir)
        print(again)
        assert "created" not in again
        assert "queued" not in again
        for path, total in (
            ("/api/v1/instruments", 6),
            ("/api/v1/strategies", 1),
            ("/api/v1/backtests", 1),
        ):
            page = httpx.get(f"{served.base_url}{path}", headers=headers).json()
            assert page["total"] == total, (path, page)
        assert served.health()["components"]["worker"]["restarts"] == 0
