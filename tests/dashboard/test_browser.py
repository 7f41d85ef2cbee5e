"""The dashboard in a real browser (Debian's chromium) against a real quarkbot with the demo:
sign-in, live quotes, the order ticket, the kill switch, a sweep, roles, escaping, resume."""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Any

import pytest

from quarkbot.testing import wait_until
from tests.dashboard.conftest import Live, Session, go, open_session

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.e2e

PAGES = ("overview", "market", "strategies", "backtests", "risk", "system")
XSS = "<img src=x onerror=alert(1)>"


def _clean(session: Session) -> None:
    assert session.guard.outside == [], "requests left the origin"
    assert session.dialogs == [], "a dialog opened"
    assert session.errors == [], "page errors or CSP violations"


def test_every_page_renders_and_is_screenshot(admin_session: Session, live: Live) -> None:
    for name in PAGES:
        page = go(admin_session, live, name)
        page.wait_for_timeout(1500)  # charts and tables fill in
        assert page.locator("h1.page-title").inner_text().lower() == name
        page.screenshot(path=str(live.shots / f"dashboard-{name}.png"), full_page=True)
        assert (live.shots / f"dashboard-{name}.png").stat().st_size > 10_000
    go(admin_session, live, "overview")
    _until(admin_session.page, "document.querySelector('#equity-chart').dataset.drawn")
    _clean(admin_session)


def test_pages_send_a_strict_policy(live: Live) -> None:
    import httpx

    response = httpx.get(f"{live.server.base_url}/ui/market")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "<script>" not in response.text and "token" not in response.text.lower()


def test_a_live_quote_moves(admin_session: Session, live: Live) -> None:
    page = go(admin_session, live, "market")
    last = "document.querySelector('#q-last').dataset.value"
    first = _until(page, last)
    _until(page, f"{last} !== {first!r} && {last}")
    _clean(admin_session)


def test_an_order_from_the_ticket_fills_without_a_reload(
    admin_session: Session, live: Live
) -> None:
    page = go(admin_session, live, "market")
    page.evaluate("window.notReloaded = true")
    page.fill("#ticket input[name=quantity]", "3")
    page.click("#preview-btn")
    page.wait_for_selector("#preview:not([hidden]), #toast:not([hidden])")
    assert page.locator("#preview .verdict-ok").count() == 1, page.locator(".content").inner_text()
    gates = page.locator("#preview .gate-name").all_inner_texts()
    assert {"risk", "budget"} <= set(gates)
    assert all(v == "pass" for v in page.locator("#preview .gate-verdict").all_inner_texts())
    before = {row["id"] for row in live.api("GET", "/api/v1/orders?limit=1000")["items"]}
    page.click("#submit-btn")
    orders = wait_until(
        lambda: [
            o
            for o in live.api("GET", "/api/v1/orders?limit=1000")["items"]
            if o["id"] not in before
        ]
    )
    order = orders[0]
    assert order["client_order_id"].startswith("ui-") and order["quantity"] == "3"
    row = page.locator(f"#fills tr:has-text('{order['client_order_id']}')")
    row.wait_for(timeout=20_000)
    assert page.evaluate("window.notReloaded") is True
    assert live.api("GET", f"/api/v1/orders/{order['id']}")["status"] == "FILLED"
    _clean(admin_session)


def test_the_kill_switch_needs_its_typed_confirmation(admin_session: Session, live: Live) -> None:
    page = go(admin_session, live, "risk")
    page.fill("#kill-form input[name=reason]", "browser test")
    page.fill("#kill-form input[name=confirmation]", "kill")
    assert page.locator("#kill-submit").is_disabled()
    page.fill("#kill-form input[name=confirmation]", "KILL")
    page.click("#kill-submit")
    page.wait_for_selector("#kill-state.pill-danger")
    assert live.api("GET", "/api/v1/risk/kill-switch")["active"] is True
    # while it is on, the ticket's preview names the gate and its denial code
    page = go(admin_session, live, "market")
    page.click("#preview-btn")
    page.wait_for_selector("#preview .verdict-deny")
    assert re.search(r"denied · \w+", page.locator("#preview .gate-deny").first.inner_text())
    assert page.locator("#submit-btn").is_disabled()
    page = go(admin_session, live, "risk")
    page.select_option("#kill-form select[name=action]", "deactivate")
    assert page.locator("#kill-word").inner_text() == "RESUME"
    page.fill("#kill-form input[name=confirmation]", "RESUME")
    page.click("#kill-submit")
    page.wait_for_selector("#kill-state.pill-ok")
    assert live.api("GET", "/api/v1/risk/kill-switch")["active"] is False
    _clean(admin_session)


def test_a_sweep_from_the_form_runs_with_progress_and_opens_its_report(
    admin_session: Session, live: Live
) -> None:
    page = go(admin_session, live, "backtests")
    page.fill("#sweep-form input[name=symbols]", "ACME")
    page.fill("#sweep-form textarea[name=grid]", "fast = 5, 10\nslow = 30, 50, 100")
    page.click("#sweep-form button[type=submit]")
    page.wait_for_selector("#progress-card:not([hidden])")
    page.wait_for_selector("#report:not([hidden])", timeout=240_000)
    assert page.locator("#progress").get_attribute("value") == "100"
    backtest = int(page.locator("#report").get_attribute("data-backtest") or 0)
    assert live.api("GET", f"/api/v1/backtests/{backtest}")["status"] == "complete"
    assert page.locator("#heatmap .hm-cell").count() == 6
    assert page.locator("#combinations tbody tr").count() == 6
    page.screenshot(path=str(live.shots / "dashboard-backtest-report.png"), full_page=True)
    _clean(admin_session)


def test_a_viewer_sees_no_trading_controls(viewer_session: Session, live: Live) -> None:
    page = go(viewer_session, live, "market")
    page.wait_for_selector("#candles canvas")
    assert page.locator("#ticket").count() == 0
    page = go(viewer_session, live, "risk")
    page.wait_for_selector("#kill-state.pill")
    assert page.locator("#kill-form").count() == 0
    page = go(viewer_session, live, "strategies")
    assert page.locator("#strategies input.switch:not([disabled])").count() == 0
    assert page.locator("#strategies button").count() == 0
    page = go(viewer_session, live, "backtests")
    assert page.locator("#sweep-form").count() == 0
    _clean(viewer_session)


def test_a_hostile_strategy_name_is_text(admin_session: Session, live: Live) -> None:
    live.api(
        "POST",
        "/api/v1/strategies",
        json={
            "name": XSS,
            "type": "sma_crossover",
            "parameters": {"fast": 2, "slow": 3},
            "symbols": ["ACME"],
            "timeframe": "1m",
            "is_active": False,
        },
    )
    page = go(admin_session, live, "strategies")
    cell = page.locator("#strategies td", has_text=XSS)
    cell.wait_for()
    assert cell.inner_text() == XSS
    assert page.locator("#strategies img, #sweep-form img").count() == 0
    page = go(admin_session, live, "backtests")
    page.wait_for_selector(f"#sweep-form option:has-text('{XSS}')", state="attached")
    page.wait_for_timeout(500)
    assert admin_session.dialogs == []
    _clean(admin_session)


def test_a_third_party_plugin_s_panels_render_as_text(admin_session: Session, live: Live) -> None:
    page = go(admin_session, live, "overview")
    status = page.locator("[data-panel='panel_demo.status']")
    status.locator("dd", has_text=XSS).wait_for()
    assert status.locator("img").count() == 0
    page.locator("[data-panel='panel_demo.custom']", has_text=f"custom panel: {XSS}").wait_for()
    items = page.locator("[data-panel='panel_demo.items']")
    items.locator("button", has_text="Ack").click()
    page.locator("#toast", has_text="Ack: done").wait_for()
    assert page.locator("[data-panel='panel_demo.admin']").count() == 0  # a system-page panel
    _clean(admin_session)


def test_the_socket_resumes_without_a_missing_or_duplicated_fill(
    admin_session: Session, live: Live
) -> None:
    page = go(admin_session, live, "overview")
    # one fill seen live first, so the page holds a seq to resume from
    first = _fills_of(live, [_market_order(live, "BUY")])
    page.locator(f"#fills tr[data-key='{first[0]['fill_id']}']").wait_for(timeout=20_000)
    page.evaluate("window.quarkbotLive.suspend()")
    page.wait_for_selector("#conn.conn-offline")
    # the buys filled before the sells are placed: a spot sell beyond what is held by then would
    # be refused (SHORT_NOT_ALLOWED), however late the worker's fills come
    fills = _fills_of(live, [_market_order(live, "BUY") for _ in range(2)])
    fills += _fills_of(live, [_market_order(live, "SELL") for _ in range(2)])
    for fill in fills:  # none reached the page while the socket was closed
        assert page.locator(f"#fills tr[data-key='{fill['fill_id']}']").count() == 0
    page.evaluate("window.quarkbotLive.connect()")
    page.wait_for_selector("#conn.conn-live")
    for fill in fills:
        page.locator(f"#fills tr[data-key='{fill['fill_id']}']").wait_for(timeout=20_000)
    keys = page.locator("#fills tbody tr").evaluate_all("rows => rows.map(r => r.dataset.key)")
    assert len(keys) == len(set(keys))
    stats = page.evaluate("window.quarkbotLive.stats")
    assert stats["duplicates"] == 0 and stats["resyncs"] == 0
    _clean(admin_session)


def _fills_of(live: Live, orders: list[int]) -> list[dict[str, Any]]:
    """The fills of ``orders``, once each has one."""

    def found() -> list[dict[str, Any]]:
        fills = live.api("GET", "/api/v1/fills?limit=1000")["items"]
        mine = [fill for fill in fills if fill["order_id"] in orders]
        return mine if {fill["order_id"] for fill in mine} == set(orders) else []

    return wait_until(found, 30)


def _market_order(live: Live, side: str) -> int:
    order = live.api(
        "POST",
        "/api/v1/orders",
        json={
            "client_order_id": f"t-{uuid.uuid4().hex[:12]}",
            "symbol": "GLOBEX",
            "side": side.lower(),
            "quantity": "1",
        },
    )
    return int(order["id"])


def _until(page: Page, expression: str, timeout: float = 30.0) -> Any:
    """Poll ``expression`` from outside the page until truthy (the page's policy forbids the
    in-page eval that ``wait_for_function`` uses)."""
    return wait_until(lambda: page.evaluate(expression), timeout)


def test_toggles_audit_verification_and_logout(live: Live, chromium_browser: Browser) -> None:
    # its own tab: logging out ends the session
    session = open_session(chromium_browser, live, live.admin, live.password)
    page = go(session, live, "strategies")
    strategy = next(
        s for s in live.api("GET", "/api/v1/strategies?limit=1000")["items"] if s["auto_trade"]
    )
    toggle = page.locator(f"#strategies input[aria-label='auto_trade {strategy['name']}']")
    toggle.uncheck()
    wait_until(lambda: not live.api("GET", f"/api/v1/strategies/{strategy['id']}")["auto_trade"])
    toggle.check()
    wait_until(lambda: live.api("GET", f"/api/v1/strategies/{strategy['id']}")["auto_trade"])
    page = go(session, live, "system")
    page.click("#audit-verify")
    page.locator("#audit-result.pill-ok", has_text="chain intact").wait_for()
    page.click("#logout")
    page.wait_for_url("**/ui/login")
    assert page.evaluate("sessionStorage.length") == 0
    page.goto(f"{live.server.base_url}/ui/risk")
    page.wait_for_url("**/ui/login")
    _clean(session)
    session.page.context.close()
