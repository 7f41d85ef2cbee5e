"""One quarkbot (web + worker, the demo seeded) and one chromium for each dashboard test module."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from quarkbot.testing import OriginGuard
from quarkbot.testing_servers import TEST_PASSWORD, Deployment, Server, bearer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

PLUGINS_DIR = Path(__file__).resolve().parent / "plugins"
#: Where the screenshots go (a temporary directory unless this names one).
SHOTS_ENV = "QUARKBOT_DASHBOARD_SCREENSHOTS"


@dataclass
class Live:
    server: Server
    admin: str
    password: str
    token: str
    shots: Path
    users: dict[str, str] = field(default_factory=dict)

    def api(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
        response = httpx.request(
            method,
            f"{self.server.base_url}{path}",
            headers=bearer(token or self.token),
            timeout=60,
            **kwargs,
        )
        assert response.status_code < 300, (
            f"{method} {path}: {response.status_code} {response.text}"
        )
        return response.json() if response.content else None

    def user(self, role: str) -> str:
        """A user of ``role`` (created once); its username."""
        if role not in self.users:
            name = f"{role}-{uuid.uuid4().hex[:6]}"
            self.server.create_user(self.token, name, role)
            self.users[role] = name
        return self.users[role]


@pytest.fixture(scope="module")
def live(
    module_deployment: Callable[..., AbstractContextManager[Deployment]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Live]:
    # RESUME right after KILL: the test walks the kill switch both ways; panel_demo is a
    # third-party plugin with dashboard panels
    with module_deployment(
        QUARKBOT_RISK_KILL_SWITCH_COOLDOWN_SECONDS="0",
        PYTHONPATH=str(PLUGINS_DIR),
        QUARKBOT_PLUGIN_MODULES="panel_demo",
    ) as deployment:
        server = deployment.serve(worker=True)
        admin, password = deployment.admin_credentials()
        deployment.cli("demo", "--url", server.base_url, timeout=180)
        shots = Path(os.environ.get(SHOTS_ENV) or tmp_path_factory.mktemp("screens"))
        shots.mkdir(parents=True, exist_ok=True)
        yield Live(server, admin, password, server.login(admin, password), shots)


@dataclass
class Session:
    page: Page
    guard: OriginGuard
    dialogs: list[str]
    errors: list[str]


def open_session(browser: Browser, live: Live, username: str, password: str) -> Session:
    """A fresh browser context signed in through the login form; every request outside the
    server's origin is aborted and recorded, every dialog and page error recorded."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    guard = OriginGuard(page, live.server.base_url)
    dialogs: list[str] = []
    errors: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    page.goto(f"{live.server.base_url}/")
    page.wait_for_url("**/ui/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_url("**/ui/")
    page.wait_for_selector("#conn.conn-live", timeout=30_000)
    return Session(page, guard, dialogs, errors)


# ``live`` before ``chromium_browser``: with PostgreSQL, module_deployment creates the database
# with asyncio.run, which fails once Playwright's sync API runs its loop in this thread.
@pytest.fixture(scope="module")
def admin_session(live: Live, chromium_browser: Browser) -> Iterator[Session]:
    session = open_session(chromium_browser, live, live.admin, live.password)
    yield session
    session.page.context.close()


@pytest.fixture(scope="module")
def viewer_session(live: Live, chromium_browser: Browser) -> Iterator[Session]:
    session = open_session(chromium_browser, live, live.user("viewer"), TEST_PASSWORD)
    yield session
    session.page.context.close()


def go(session: Session, live: Live, page_name: str) -> Page:
    """Open a dashboard page and wait for its live connection."""
    page = session.page
    page.goto(f"{live.server.base_url}/ui/{'' if page_name == 'overview' else page_name}")
    page.wait_for_selector("body[data-ready]", state="attached", timeout=30_000)
    page.wait_for_selector("#conn.conn-live", timeout=30_000)
    return page
