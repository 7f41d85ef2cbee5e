"""An adapter is the native route: the same role, the same denial, the same audit row."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from quarkbot.app import create_app
from quarkbot.auth import route_role
from quarkbot_plugins.compat.adapters import NATIVE_ATTRIBUTE, native_role
from tests.host.helpers import offline_settings

from .helpers import Site, site

KILL = {"action": "activate", "confirmation": "KILL", "reason": "parity"}
RESUME = {"action": "deactivate", "confirmation": "RESUME"}
SAME_ROW = ("actor", "actor_type", "method", "path", "status", "action", "client_ip")
BUY = {"client_order_id": "par-1", "symbol": "BTC-USD", "side": "buy", "type": "market",
       "quantity": "0.5"}  # fmt: skip


def test_every_adapter_declares_its_native_routes_role(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUARKBOT_COMPAT_PROFILES", "all")
    app = create_app(offline_settings(tmp_path))
    checked = 0
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        native = getattr(view, NATIVE_ATTRIBUTE, None)
        if native is None:
            continue
        expected = native_role(app, *native)
        if expected is None:  # its plugin is not loaded: pending (it answers the native 404)
            continue
        assert route_role(view) == expected, (rule.rule, native)
        checked += 1
    assert checked >= 50


def test_no_profile_is_mounted_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUARKBOT_COMPAT_PROFILES", raising=False)
    app = create_app(offline_settings(tmp_path))
    assert not [r.rule for r in app.url_map.iter_rules() if r.endpoint.startswith("compat_")]


@pytest.fixture(scope="module")
def par(module_deployment: Any) -> Iterator[Site]:
    with site(module_deployment, QUARKBOT_RISK_KILL_SWITCH_COOLDOWN_SECONDS="0") as s:
        s.trader.ok(s.trader.post("/api/v1/orders", BUY), 201)
        s.trader.filled("par-1")
        yield s


@pytest.mark.e2e
def test_a_role_check_is_the_same(par: Site) -> None:
    for user in (par.viewer, par.trader):
        through = user.post("/api/risk/kill-switch", KILL)
        native = user.post("/api/v1/risk/kill-switch", KILL)
        assert (through.status_code, through.json()) == (native.status_code, native.json())
        assert through.status_code == 403
    anonymous = [
        httpx.post(f"{par.base_url}{path}", json=KILL, timeout=30)
        for path in ("/api/risk/kill-switch", "/api/v1/risk/kill-switch")
    ]
    assert anonymous[0].status_code == anonymous[1].status_code == 401
    assert anonymous[0].json() == anonymous[1].json()


def _last_rows(site_: Site, count: int) -> list[dict[str, Any]]:
    rows = site_.admin.ok(site_.admin.get("/api/v1/audit", limit=count))["items"]
    return [{k: row[k] for k in SAME_ROW} for row in rows]


@pytest.mark.e2e
def test_an_audit_row_is_the_same(par: Site) -> None:
    par.admin.ok(par.admin.post("/api/risk/kill-switch", KILL))
    through = _last_rows(par, 1)
    par.admin.ok(par.admin.post("/api/v1/risk/kill-switch", RESUME))
    par.admin.ok(par.admin.post("/api/v1/risk/kill-switch", KILL))
    native = _last_rows(par, 1)
    assert through == native  # one row each, identical: actor, path, action, status...
    assert through[0]["path"] == "/api/v1/risk/kill-switch"
    before = len(par.admin.ok(par.admin.get("/api/v1/audit", limit=1000))["items"])
    par.admin.ok(par.admin.post("/api/risk/kill-switch", RESUME))
    after = len(par.admin.ok(par.admin.get("/api/v1/audit", limit=1000))["items"])
    assert after == before + 1  # the adapter's own request wrote none


@pytest.mark.e2e
def test_a_denial_is_the_same(par: Site) -> None:
    par.admin.ok(par.admin.post("/api/v1/risk/kill-switch", KILL))
    try:
        through = par.trader.ok(
            par.trader.post("/alphapulse/api/v1/hedging/execute", {"idempotency_key": "p-a"})
        )
        native = par.trader.ok(
            par.trader.post("/api/v1/hedging/execute", {"idempotency_key": "p-n"})
        )
    finally:
        par.admin.ok(par.admin.post("/api/v1/risk/kill-switch", RESUME))
    keep = ("side", "amount", "asset", "status", "deny_code", "deny_reason", "deny_plugin")
    trades = [[{k: t[k] for k in keep} for t in r["executed_trades"]] for r in (through, native)]
    assert trades[0] == trades[1] and trades[0], trades
    assert trades[0][0]["deny_code"] == "KILL_SWITCH_ACTIVE"
    assert (through["status"], through["message"]) == (native["status"], native["message"])
