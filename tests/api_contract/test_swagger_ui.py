"""Swagger UI and ReDoc in a real browser (Debian's chromium) against a real ``quarkbot serve``.

Swagger's *Authorize* logs in with a username and password (the OAuth2 password scheme posts to
``/token``), then *Try it out* on ``GET /api/v1/auth/me`` answers 200. Neither page sends a
request off its origin, and the Content-Security-Policy refuses nothing they need.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from quarkbot.testing import OriginGuard

pytestmark = pytest.mark.e2e

TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def live(module_deployment: Any) -> Iterator[tuple[str, str, str]]:
    """(base URL, admin username, admin password) of a server shared by this module."""
    with module_deployment() as d:
        server = d.serve()
        username, password = d.admin_credentials()
        yield server.base_url, username, password


class Watched:
    """A page with an :class:`OriginGuard` and the console's CSP complaints."""

    def __init__(self, browser: Any, base_url: str) -> None:
        self.page = browser.new_page(viewport={"width": 1280, "height": 1400})
        self.guard = OriginGuard(self.page, base_url)
        self.refused: list[str] = []
        self.page.on("console", self._console)
        self.page.set_default_timeout(TIMEOUT_MS)

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            self.refused.append(message.text)

    def close(self) -> None:
        self.page.close()


@pytest.fixture
def watched(chromium_browser: Any, live: tuple[str, str, str]) -> Iterator[Watched]:
    page = Watched(chromium_browser, live[0])
    try:
        yield page
    finally:
        page.close()


def test_swagger_authorize_with_password_then_try_me(watched, live, tmp_path: Path):
    base_url, username, password = live
    page = watched.page
    response = page.goto(f"{base_url}/docs")
    assert response is not None and response.status == 200
    assert page.evaluate("document.compatMode") == "CSS1Compat"  # standards mode: a doctype
    # Swagger UI renders a list of 150 tags and operations or more lazily, as it scrolls into
    # view: the filter box narrows it to the auth tag.
    page.fill("input.operation-filter-input", "auth")
    page.wait_for_selector("#operations-auth-auth_me")

    page.click("button.btn.authorize")
    oauth = page.locator(".auth-container", has_text="oauth2Password")
    oauth.locator("#oauth_username").fill(username)
    oauth.locator("#oauth_password").fill(password)
    oauth.locator("button.btn.modal-btn.auth.authorize").click()
    oauth.locator("button.btn.modal-btn.auth", has_text="Logout").wait_for()
    page.screenshot(path=str(tmp_path / "swagger-authorized.png"))
    page.click("button.btn-done")

    operation = page.locator("#operations-auth-auth_me")
    operation.locator(".opblock-summary").first.click()
    operation.locator("button.try-out__btn").click()
    operation.locator("button.execute").click()
    status = operation.locator(".live-responses-table .response .response-col_status").first
    status.wait_for()
    body = operation.locator(".live-responses-table .response-col_description pre").first
    page.screenshot(path=str(tmp_path / "swagger-me.png"), full_page=True)
    assert status.inner_text().strip() == "200", body.inner_text()
    assert f'"username": "{username}"' in body.inner_text()

    assert watched.guard.outside == []
    assert watched.refused == []


def test_redoc_renders_offline(watched, live, tmp_path: Path):
    base_url, _, _ = live
    page = watched.page
    response = page.goto(f"{base_url}/redoc")
    assert response is not None and response.status == 200
    assert page.evaluate("document.compatMode") == "CSS1Compat"
    page.wait_for_selector("h1:has-text('quarkbot')")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(tmp_path / "redoc.png"))
    assert "``" not in page.inner_text("body")

    assert watched.guard.outside == []
    assert watched.refused == []
