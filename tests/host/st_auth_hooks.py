"""schemathesis hooks (``SCHEMATHESIS_HOOKS``): authenticate as an admin from a pool of API keys.

Fuzzing revokes keys (``DELETE /api/v1/auth/api-keys/{id}``) and may revoke the one in use;
schemathesis refetches after a 401, and this provider moves on to the next key that still works.
"""

from __future__ import annotations

import os
from typing import Any

import requests
import schemathesis

BASE_URL = os.environ["QBTEST_ST_BASE_URL"]


@schemathesis.auth()
class AdminKeyPool:
    def __init__(self) -> None:
        self.keys = os.environ["QBTEST_ST_ADMIN_KEYS"].split(",")

    def get(self, case: Any, context: Any) -> str:
        while self.keys:
            response = requests.get(
                f"{BASE_URL}/api/v1/auth/me", headers={"X-API-Key": self.keys[0]}, timeout=30
            )
            if response.status_code == 200 and response.json()["role"] == "admin":
                return self.keys[0]
            self.keys.pop(0)
        raise RuntimeError("the run revoked every admin API key in the pool")

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "X-API-Key": data}
