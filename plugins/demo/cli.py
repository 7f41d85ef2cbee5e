"""``quarkbot demo``: fill an empty system with a market anyone can watch, over the REST API.

Idempotent: each step looks first and creates only what is missing, so a second run changes
nothing. It talks to the running server (``quarkbot serve``) as an admin: the command reads the
same settings and database, and issues itself a short-lived token for the first active admin
(or ``--as NAME``), as the server would after a login.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import click

from quarkbot_plugins.demo import generator

STRATEGY_NAME = "Demo SMA 1m"
SWEEP_GRID = {"fast": [5, 10, 20], "slow": [30, 50, 100]}
SWEEP_SYMBOLS = ["ACME", "GLOBEX", "INITECH", "BTC-USD"]
BUDGET_USD = "60000"
FEED_SPEED = 2.0


class ApiError(click.ClickException):
    pass


class Api:
    """A tiny JSON client of the REST API (the standard library only)."""

    def __init__(self, base_url: str, token: str) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise click.BadParameter(f"not an http(s) URL: {base_url}")
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        ok: tuple[int, ...] = (200, 201, 202),
    ) -> tuple[int, Any]:
        data = None
        headers = dict(self.headers)
        if body is not None:
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            headers["Content-Type"] = content_type
        request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
            self.base_url + path, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                status, text = response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read().decode(errors="replace")
        except urllib.error.URLError as exc:
            raise ApiError(f"cannot reach {self.base_url}: {exc.reason}") from exc
        if status not in ok:
            raise ApiError(f"{method} {path} answered {status}: {text[:500]}")
        return status, json.loads(text) if text else None

    def wait_ready(self, seconds: float = 60.0) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                self.call("GET", "/health")
                return
            except ApiError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)


def _token(settings: Any, username: str | None) -> str:
    """A bearer token of ``username`` (or the first active admin), as a login would give."""
    from quarkbot import db
    from quarkbot.auth import TokenService
    from quarkbot.models import User
    from quarkbot.safety import load_secrets

    async def body() -> str:
        async with db.database(settings):
            query = User.filter(is_active=True, role="admin")
            if username:
                query = query.filter(username=username)
            user = await query.order_by("id").first()
        if user is None:
            raise click.ClickException(
                "no active admin user to run the demo as; create one with "
                "`quarkbot users create NAME --role admin`"
            )
        token, _ = TokenService(settings.jwt, load_secrets(settings).jwt_secret).issue(user)
        return token

    return asyncio.run(body())


# the steps --------------------------------------------------------------------------------------
def instruments(api: Api) -> str:
    created = []
    for instrument in generator.INSTRUMENTS:
        status, _ = api.call("GET", f"/api/v1/instruments/{instrument.symbol}", ok=(200, 404))
        if status == 404:
            api.call("POST", "/api/v1/instruments", instrument.instrument_body())
            created.append(instrument.symbol)
    return f"created {', '.join(created)}" if created else "all there"


def history(api: Api) -> str:
    inserted = 0
    for instrument in generator.INSTRUMENTS:
        _, result = api.call(
            "POST",
            f"/api/v1/market-data/{instrument.symbol}/bars?timeframe=1d",
            generator.daily_csv(instrument),
            content_type="text/csv",
        )
        inserted += int(result["inserted"])
    span = f"{generator.HISTORY_START.year}-{generator.HISTORY_END.year}"
    return f"{inserted} daily bars stored ({span})" if inserted else "all there"


def feed(api: Api) -> str:
    _, state = api.call("GET", "/api/v1/market-data/feed")
    desired = (state or {}).get("desired") or {}
    if desired.get("running") and desired.get("source") == "demo":
        return "already running"
    symbols = [instrument.symbol for instrument in generator.INSTRUMENTS]
    command = {
        "action": "start",
        "source": "demo",
        "symbols": symbols,
        "speed": FEED_SPEED,
        "seed": int(time.time()) // 60,  # the minute the demo's price cycles start from
    }
    api.call("POST", "/api/v1/market-data/feed", command)
    return f"started for {', '.join(symbols)}"


def strategy(api: Api) -> tuple[int, str]:
    _, page = api.call("GET", "/api/v1/strategies?limit=1000")
    for item in page["items"]:
        if item["name"] == STRATEGY_NAME:
            return int(item["id"]), "already there"
    body = {
        "name": STRATEGY_NAME,
        "type": "sma_crossover",
        "description": "The demo: SMA(2)/SMA(3) crossings on 1-minute bars, paper-traded.",
        "parameters": {"fast": 2, "slow": 3},
        "symbols": list(generator.TRADED),
        "timeframe": "1m",
        "is_active": False,  # activated once its budget is set
        "auto_trade": True,
        "trade_quantity": "10",
    }
    _, created = api.call("POST", "/api/v1/strategies", body)
    return int(created["id"]), f"created (id {created['id']}), auto-trade on paper"


def budget(api: Api, strategy_id: int) -> str:
    status, _ = api.call("GET", f"/api/v1/budget/{strategy_id}", ok=(200, 404))
    if status == 404:
        api.call("PUT", f"/api/v1/budget/{strategy_id}/USD", {"allocated": BUDGET_USD})
        result = f"{BUDGET_USD} USD allocated"
    else:
        result = "already there"
    api.call("PATCH", f"/api/v1/strategies/{strategy_id}", {"is_active": True})
    return result


def sweep(api: Api, strategy_id: int) -> str:
    _, page = api.call("GET", "/api/v1/backtests?limit=1000")
    for item in page["items"]:
        if item.get("strategy_id") == strategy_id and item["status"] not in ("failed", "canceled"):
            return f"already there (backtest {item['id']}, {item['status']})"
    body = {
        "symbols": SWEEP_SYMBOLS,
        "timeframe": "1d",
        "start": f"{generator.HISTORY_START.isoformat()}T00:00:00Z",
        "end": f"{generator.HISTORY_END.isoformat()}T23:59:59Z",
        "param_grid": SWEEP_GRID,
        "fees": 0.001,
    }
    _, queued = api.call("POST", f"/api/v1/strategies/{strategy_id}/backtest", body)
    return f"queued (backtest {queued['id']}, {queued['combinations']} combinations)"


def _step(label: str, action: Callable[[], Any]) -> Any:
    result = action()
    text = result[1] if isinstance(result, tuple) else result
    click.echo(f"  {label:<12} {text}")
    return result


@click.command("demo")
@click.option("--url", default=None, help="The running server (default: from the settings).")
@click.option("--as", "username", default=None, help="The admin to act as (default: the first).")
def demo(url: str | None, username: str | None) -> None:
    """Create a demo anyone can watch (idempotent): instruments, six years of daily bars,
    the live demo feed, a paper-trading strategy with a budget, and a parameter sweep."""
    from quarkbot.settings import Settings

    settings = Settings()
    wildcard = settings.host in {"0.0.0.0", "::", ""}  # noqa: S104 - served on all of them
    host = "127.0.0.1" if wildcard else settings.host
    api = Api(url or f"http://{host}:{settings.port}", _token(settings, username))
    api.wait_ready()
    click.echo(f"quarkbot demo on {api.base_url}:")
    _step("instruments", lambda: instruments(api))
    _step("feed", lambda: feed(api))
    _step("history", lambda: history(api))
    strategy_id, _ = _step("strategy", lambda: strategy(api))
    _step("budget", lambda: budget(api, strategy_id))
    _step("sweep", lambda: sweep(api, strategy_id))
    click.echo(
        "Watch it: quotes on /ws (market:quotes:ACME), fills on /ws/trades, "
        f"GET /api/v1/strategies/{strategy_id}/signals, /api/v1/orders, /api/v1/positions, "
        "/api/v1/portfolio and /api/v1/backtests (the report: /api/v1/backtests/{id}/report)."
    )
