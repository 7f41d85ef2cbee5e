"""The built-in webhook notifier: a JSON POST signed with HMAC-SHA256, through the SSRF guard.

Headers: ``X-Quarkbot-Timestamp: <unix seconds>`` and ``X-Quarkbot-Signature: sha256=<hex>``,
the HMAC of ``"<timestamp>.<body>"`` with the target's secret. A receiver recomputes it,
compares in constant time and refuses old timestamps (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Any

from quarkbot.contrib import Notifier
from quarkbot.errors import Invalid
from quarkbot.plugin_settings import settings_of
from quarkbot_plugins.alerts import ssrf
from quarkbot_plugins.alerts.settings import AlertsSettings

SIGNATURE_HEADER = "X-Quarkbot-Signature"
TIMESTAMP_HEADER = "X-Quarkbot-Timestamp"


class DeliveryFailed(Exception):
    """The receiver did not accept the notification (retried with backoff)."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


async def validate(config: dict[str, Any]) -> dict[str, Any]:
    """``{"url", "secret"}``: the URL passes the guard now; a missing secret is generated."""
    url = config.get("url")
    if not isinstance(url, str) or not url or len(url) > 2000:
        raise Invalid.at(["body", "config", "url"], "a webhook needs a url")
    unknown = set(config) - {"url", "secret"}
    if unknown:
        raise Invalid.at(["body", "config", sorted(unknown)[0]], "unknown webhook setting")
    secret = config.get("secret") or secrets.token_urlsafe(32)
    if not isinstance(secret, str) or len(secret) < 16:
        raise Invalid.at(["body", "config", "secret"], "the secret needs 16 characters or more")
    await ssrf.check_url(url, settings_of(AlertsSettings).webhook_allowlist)
    return {"url": url, "secret": secret}


async def send(config: dict[str, Any], notification: dict[str, Any]) -> None:
    """POST the notification to the address checked just now; no redirects are followed."""
    import httpx

    settings = settings_of(AlertsSettings)
    target = await ssrf.check_url(config["url"], settings.webhook_allowlist)
    body = json.dumps(notification, separators=(",", ":"), default=str).encode()
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "Host": f"{target.host}:{target.port}",
        "User-Agent": "quarkbot-alerts",
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: sign(config["secret"], stamp, body),
    }
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    async with httpx.AsyncClient(
        timeout=settings.webhook_timeout_seconds, follow_redirects=False, trust_env=False
    ) as client:
        try:
            response = await client.post(
                target.pinned_url, content=body, headers=headers, extensions=extensions
            )
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(f"the receiver answered {response.status_code}")


WEBHOOK = Notifier(
    "webhook", "JSON POST signed with HMAC-SHA256 (X-Quarkbot-Signature)", send, validate
)
