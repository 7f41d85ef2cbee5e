"""Browser tests: Debian's chromium driven by Playwright for Python (sync API).

Playwright's own browser download is not used: tests launch the system's chromium through
``executable_path``. When it is missing the set-up installs it with ``apt-get`` (as root, as CI
and a fresh machine need).

- ``chromium_browser`` (module scope): a launched browser, closed after the module.
- :func:`chromium_path`: the executable, installed when missing.
- :class:`OriginGuard`: attached to a page, it records every request that leaves the origin and
  aborts it, so a test proves that a page works offline (``guard.outside == []``).

Use the fixture from plain (sync) test functions against a real server process: the sync API
refuses to run inside an event loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from quarkbot.testing_packages import debian_program

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Route


def chromium_path() -> str:
    """Debian's chromium, installed with apt-get when missing."""
    return debian_program("chromium", "chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser")


@pytest.fixture(scope="module")
def chromium_browser() -> Iterator[Browser]:
    """A headless chromium for the module's tests; closed (and its driver stopped) afterwards."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    executable = chromium_path()
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            yield browser
        finally:
            browser.close()


class OriginGuard:
    """Aborts and records every request of ``page`` that does not go to ``origin``."""

    def __init__(self, page: Page, origin: str) -> None:
        parts = urlsplit(origin)
        self.origin = (parts.scheme, parts.netloc)
        self.outside: list[str] = []
        page.route("**/*", self._route)

    def _route(self, route: Route, *_: Any) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob") or (parts.scheme, parts.netloc) == self.origin:
            route.continue_()
            return
        self.outside.append(url)
        route.abort()
