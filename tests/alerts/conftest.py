"""Fixtures of the alerts tests: users, instruments with quotes, the paper engine (shared
through ``quarkbot_plugins.trading.testing``), and a webhook receiver process."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from quarkbot_plugins.trading.testing import *  # noqa: F403

RECEIVER = Path(__file__).with_name("receiver.py")


class Receiver:
    """A webhook receiver in its own process on 127.0.0.1; it logs what it receives."""

    def __init__(self, tmp: Path, statuses: list[int]) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.log = tmp / "received.jsonl"
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.process = subprocess.Popen(
            [sys.executable, str(RECEIVER), str(self.port), str(self.log),
             ",".join(map(str, statuses))],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/ready", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise AssertionError("the webhook receiver did not start")

    def received(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    """Answers 500 once, then 200 (so a delivery is retried once)."""
    started = Receiver(tmp_path, [500, 200])
    try:
        yield started
    finally:
        started.stop()
