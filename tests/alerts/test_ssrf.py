"""The webhook guard. Refusals end to end use loopback targets only; private, link-local and
metadata ranges are checked on the classification function, never by sending a request."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from quarkbot.errors import Invalid
from quarkbot_plugins.alerts import ssrf


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("100.100.100.200", "metadata"),
        ("::ffff:169.254.169.254", "metadata"),
        ("100.64.0.1", "shared"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("192.0.2.10", "private"),  # a documentation range
    ],
)
def test_refused_ranges(address: str, reason: str) -> None:
    found = ssrf.refusal(ipaddress.ip_address(address))
    assert found is not None and reason in found, (address, found)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert ssrf.refusal(ipaddress.ip_address(address)) is None


def test_allowlist() -> None:
    assert ssrf.allowed(ipaddress.ip_address("127.0.0.1"), ["127.0.0.1/32"])
    assert not ssrf.allowed(ipaddress.ip_address("127.0.0.2"), ["127.0.0.1/32"])
    assert not ssrf.allowed(ipaddress.ip_address("10.0.0.1"), [])


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://[::1]:9/hook",
        "http://localhost:9/hook",
        "http://2130706433:9/hook",  # 127.0.0.1 in decimal
        "http://0x7f000001:9/hook",  # and in hex
        "https://127.1:9/hook",
    ],
)
async def test_loopback_urls_are_refused_after_resolution(url: str) -> None:
    with pytest.raises(Invalid) as caught:
        await ssrf.check_url(url, [])
    assert "loopback" in caught.value.problems[0]["msg"]


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1/x", "file:///etc/passwd", "gopher://127.0.0.1/", "http:///nohost"]
)
async def test_other_schemes_are_refused(url: str) -> None:
    with pytest.raises(Invalid):
        await ssrf.check_url(url, [])


async def test_targets_api_refuses_loopback_with_the_reason(
    client: Any, admin: dict[str, str], viewer: dict[str, str]
) -> None:
    for url in ("http://127.0.0.1:9/h", "http://[::1]:9/h", "http://localhost:9/h",
                "http://2130706433/"):  # fmt: skip
        response = await client.post(
            "/api/v1/alerts/targets",
            json={"name": "hook", "notifier": "webhook", "config": {"url": url}},
            headers=admin,
        )
        body = await response.get_json()
        assert response.status_code == 422, body
        assert body["detail"][0]["loc"] == ["body", "config", "url"]
        assert "loopback" in body["detail"][0]["msg"]
    response = await client.post(
        "/api/v1/alerts/targets",
        json={"name": "hook", "notifier": "webhook", "config": {"url": "http://127.0.0.1:9/"}},
        headers=viewer,
    )
    assert response.status_code == 403


async def test_an_allowlisted_loopback_is_accepted(
    client: Any, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from quarkbot import plugin_settings
    from quarkbot_plugins.alerts.settings import AlertsSettings

    monkeypatch.setenv("QUARKBOT_ALERTS_WEBHOOK_ALLOWLIST", "127.0.0.1/32")
    plugin_settings.install([AlertsSettings()])
    try:
        response = await client.post(
            "/api/v1/alerts/targets",
            json={"name": "hook", "notifier": "webhook", "config": {"url": "http://127.0.0.1:9/"}},
            headers=admin,
        )
        body = await response.get_json()
        assert response.status_code == 201, body
        assert len(body["config"]["secret"]) >= 16  # generated, shown once
        listed = await (await client.get("/api/v1/alerts/targets", headers=admin)).get_json()
        assert listed["items"][0]["config"]["secret"] == "********"
    finally:
        plugin_settings.install([])
