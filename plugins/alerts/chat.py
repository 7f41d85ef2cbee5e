"""The optional chat and e-mail notifier, through apprise (``pip install quarkbot[apprise]``).

A target's config is ``{"urls": ["tgram://...", "mailtos://...", ...]}`` in apprise's URL
syntax; registered only when apprise is installed. Apprise reaches third-party services chosen
by an admin; the webhook guard does not apply to it (document its use accordingly).
"""

from __future__ import annotations

import asyncio
from typing import Any

from quarkbot.contrib import Notifier
from quarkbot.errors import Invalid


def available() -> bool:
    import importlib.util

    return importlib.util.find_spec("apprise") is not None


async def validate(config: dict[str, Any]) -> dict[str, Any]:
    import apprise

    urls = config.get("urls")
    if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
        raise Invalid.at(["body", "config", "urls"], "a list of apprise URLs is needed")
    checker = apprise.Apprise()
    for index, url in enumerate(urls):
        if not checker.add(url):
            raise Invalid.at(["body", "config", "urls", index], "apprise does not accept it")
    return {"urls": urls}


async def send(config: dict[str, Any], notification: dict[str, Any]) -> None:
    import apprise

    sender = apprise.Apprise()
    for url in config["urls"]:
        sender.add(url)
    title = f"[{notification['severity']}] quarkbot alert {notification['status']}"
    ok = await asyncio.to_thread(sender.notify, body=notification["message"], title=title)
    if not ok:
        raise RuntimeError("apprise could not deliver the notification")


APPRISE = Notifier("apprise", "Chat and e-mail services through apprise", send, validate)
