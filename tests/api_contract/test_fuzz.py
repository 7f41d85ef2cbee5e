"""schemathesis, every check (``--checks all``), on every operation of a real ``quarkbot serve``
with every built-in plugin: no 5xx; every status code, content type, header and body as
documented; schema-invalid requests refused (``negative_data_rejection``) and schema-valid ones
accepted (``positive_data_acceptance``; a 422 is expected where a documented rule depends on
state, ``STATEFUL_422``).

It runs as an admin from a pool of API keys (``tests/host/st_auth_hooks.py``): the operations
that revoke the caller's credential (logout, key revocation) move it to the next key; user
operations get a throwaway user's id, so the admin is never deactivated. Path parameters that
name objects get real ones made before the run (an instrument with bars, the throwaway user and
an API key, an alert rule and target, a strategy), so those operations reach their objects
instead of 404. ``QBTEST_FUZZ_EXAMPLES`` (default 3) sets the examples per operation and phase.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from quarkbot.testing import admin_credentials, bearer

pytestmark = pytest.mark.e2e

ST = str(Path(sys.executable).with_name("st"))
HOOKS = Path(__file__).parents[1] / "host" / "st_auth_hooks.py"
#: Examples per operation and phase; the run takes a few minutes on a loaded CI machine.
MAX_EXAMPLES = int(os.environ.get("QBTEST_FUZZ_EXAMPLES", "3"))
#: ``positive_data_acceptance`` (a request valid by the schema is accepted: 2xx, or 401, 403,
#: 404, 409, 429, schemathesis's default) also takes a 422 on these operations: the rule depends
#: on stored state, on what plugins registered or on relations between fields, which no schema
#: states (each 422 names the rule).
STATEFUL_422 = {
    ("POST", "/api/v1/orders"): "a quantity is a multiple of the stored instrument's lot size",
    ("POST", "/api/v1/orders/preview"): "the same lot-size rule",
    ("POST", "/api/v1/market-data/{symbol}/bars"): "low <= open/close <= high, ts increasing",
    ("POST", "/api/v1/alerts/rules"): "the metric is one the plugins registered",
    ("PUT", "/api/v1/alerts/rules/{rule_id}"): "the same registered metric",
    ("POST", "/api/v1/alerts/targets"): "the notifier is a registered one",
    ("POST", "/api/v1/agents/instances"): "the agent type is a registered one",
    ("POST", "/api/v1/agents/providers"): "base_url passes the SSRF guard (resolved address)",
    ("PUT", "/api/v1/agents/providers/{provider_id}"): "the same SSRF guard",
    ("PUT", "/api/v1/strategies/{strategy_id}"): "the strategy type is a registered one",
    ("POST", "/api/v1/strategies/{strategy_id}/train"): "only ml_classifier strategies train",
    ("POST", "/api/v1/strategies/{strategy_id}/backtest"): "end is after start",
    ("POST", "/api/v1/regime/analyze"): "the lookback holds enough bars of the timeframe",
    ("POST", "/api/v1/market-data/{symbol}/bars/import"): "the CSV's header, UTF-8 and rows",
    ("POST", "/api/v1/market-data/{symbol}/bars/upload"): "the same CSV rules (binary schema)",
    ("POST", "/api/v1/strategies"): "a registered type needs symbols, which are known instruments",
    ("PATCH", "/api/v1/agents/instances/{instance_id}"): "parameters are the agent type's, symbols "
    "known instruments (NUL in parameters is refused at the door; the name's pattern states it)",
    ("POST", "/api/v1/auth/users"): "a password has 5 different characters (its description says "
    "it; no schema keyword states it)",
    ("PATCH", "/api/v1/auth/users/{user_id}"): "the same password rule",
    ("POST", "/api/v1/backtests"): "the strategy type or agent is a registered one, the strategy "
    "id a stored one (exactly one of the three: the schema's oneOf)",
    ("POST", "/api/v1/agents/analyze"): "the agent type is a registered one, the symbol a known "
    "instrument (agent or instance_id: the schema's anyOf)",
    ("PATCH", "/api/v1/instruments/{symbol}"): "a spot instrument keeps max_leverage 1: the "
    "patch is checked against the stored kind (the schema states it when both are sent)",
    ("GET", "/api/v1/regime/history"): "hours or start, not both; end after start (relations "
    "between query parameters, which OpenAPI's parameter list cannot state)",
}
INSTRUMENT = {
    "symbol": "BTC-USD", "kind": "spot", "base_currency": "BTC", "quote_currency": "USD",
    "sector": "crypto", "tick_size": "0.01", "lot_size": "0.0001", "min_notional": "1",
}  # fmt: skip


class Api:
    def __init__(self, base_url: str, headers: dict[str, str]) -> None:
        self.http = httpx.Client(base_url=base_url, headers=headers, timeout=60)

    def __call__(self, method: str, path: str, status: int, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        assert response.status_code == status, (method, path, response.text)
        return response.json() if response.content else None


def optional(api: Api, method: str, path: str, status: int, **kwargs: Any) -> Any:
    """An object some operations need; when a plugin refuses it, they are fuzzed without it."""
    response = api.http.request(method, path, **kwargs)
    if response.status_code != status:
        print(f"seed {method} {path}: {response.status_code} {response.text[:300]}")
        return None
    return response.json()


def seed(api: Api) -> dict[str, Any]:
    """Objects for the path parameters, and ``parameters`` of the schemathesis config."""
    api("POST", "/api/v1/instruments", 201, json=INSTRUMENT)
    bars = [
        {"ts": f"2024-01-{day:02d}T00:00:00Z", "open": "100", "high": "110", "low": "90",
         "close": "105", "volume": "10"}
        for day in range(1, 11)
    ]  # fmt: skip
    api("POST", "/api/v1/market-data/BTC-USD/bars?timeframe=1d", 200, json=bars)
    throwaway = {"username": "throwaway", "password": "throwaway-pass-1", "role": "viewer"}
    user = api("POST", "/api/v1/auth/users", 201, json=throwaway)
    key = api("POST", "/api/v1/auth/api-keys", 201, json={"name": "throwaway"})
    parameters: dict[str, Any] = {
        "path.symbol": "BTC-USD",
        "path.asset": "BTC",
        "path.currency": "USD",
        "path.user_id": user["id"],
        "path.key_id": key["id"],
        "path.timeframe": "1d",
    }
    metric = api("GET", "/api/v1/metrics", 200)[0]["name"]
    rule = {"name": "fuzz", "metric": metric, "condition": "above", "threshold": 1e9}
    target = {"name": "fuzz", "notifier": "webhook", "config": {"url": "http://127.0.0.1:9/"}}
    strategy = {"name": "fuzz", "type": "sma_crossover", "symbols": ["BTC-USD"]}
    order = {"client_order_id": "fuzz-1", "symbol": "BTC-USD", "side": "buy", "type": "limit",
             "quantity": "0.01", "price": "100"}  # fmt: skip
    made = {
        "path.rule_id": optional(api, "POST", "/api/v1/alerts/rules", 201, json=rule),
        "path.target_id": optional(api, "POST", "/api/v1/alerts/targets", 201, json=target),
        "path.strategy_id": optional(api, "POST", "/api/v1/strategies", 201, json=strategy),
        # no quotes without a worker: the order is refused (409) and orders fuzz without one
        "path.order_id": optional(api, "POST", "/api/v1/orders", 201, json=order),
    }
    parameters.update({name: body["id"] for name, body in made.items() if body})
    if made["path.order_id"]:
        parameters["path.client_order_id"] = order["client_order_id"]
    return parameters


def admin_keys(api: Api, count: int) -> list[str]:
    return [
        api("POST", "/api/v1/auth/api-keys", 201, json={"name": f"fuzz{n}"})["key"]
        for n in range(count)
    ]


@pytest.fixture(scope="module")
def live(module_deployment) -> Iterator[tuple[str, dict[str, Any], list[str]]]:
    env = {"QUARKBOT_BACKTESTS_WARM_UP": "false", "QUARKBOT_ALERTS_WEBHOOK_ALLOWLIST": "127.0.0.1"}
    with module_deployment(**env) as deployment:
        server = deployment.serve()
        username, password = admin_credentials(deployment.data_dir)
        api = Api(server.base_url, bearer(server.login(username, password)))
        parameters = seed(api)
        yield server.base_url, parameters, admin_keys(api, 20)


#: (``enabled = false`` per operation did not hold against ``--checks all`` in schemathesis 4.32.)
ACCEPTS_422 = (
    "checks.positive_data_acceptance.expected-statuses = "
    '["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]'
)


def _operations(table: dict[tuple[str, str], str], setting: str) -> str:
    return "".join(
        f'[[operations]]\ninclude-method = "{method}"\ninclude-path = "{path}"\n{setting}\n'
        for method, path in table
    )


def write_config(path: Path, parameters: dict[str, Any]) -> None:
    # one unexpected method per path (405 and no 5xx), no duplicated query parameters: the
    # coverage phase is most of the run
    path.write_text(
        '[phases.coverage]\nunexpected-methods = ["TRACE"]\n'
        "generate-duplicate-query-parameters = false\n"
        + _operations(STATEFUL_422, ACCEPTS_422)
        + "[parameters]\n"
        + "".join(f'"{name}" = {json.dumps(value)}\n' for name, value in parameters.items())
    )


def run_schemathesis(base_url: str, parameters: dict[str, Any], keys: list[str], cwd: Path):
    config = cwd / "schemathesis.toml"
    write_config(config, parameters)
    args = [
        ST, "--config-file", str(config), "run", f"{base_url}/openapi.json",
        "--checks", "all",
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", str(MAX_EXAMPLES),
        "--seed", "20261202",
        "--workers", "1",
        "--request-timeout", "30",
        "--max-failures", "200",
    ]  # fmt: skip
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": str(HOOKS),
        "QBTEST_ST_BASE_URL": base_url,
        "QBTEST_ST_ADMIN_KEYS": ",".join(keys),
    }
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False
    )


@pytest.mark.timeout(900)
def test_fuzz_every_operation(live, tmp_path):
    base_url, parameters, keys = live
    started = time.monotonic()
    result = run_schemathesis(base_url, parameters, keys, tmp_path)
    output = result.stdout + result.stderr
    print(output, f"\nfuzzing took {time.monotonic() - started:.0f} s")
    assert result.returncode == 0, output[-20000:]
