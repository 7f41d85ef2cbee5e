"""The LLM agent against a real OpenAI-compatible HTTP server process on loopback: parsed
proposals, the retry, HOLD on garbage and on a timeout, tokens and cost; the replay run makes
no call at all (counted at the server). Providers: the SSRF guard, keys never returned."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from quarkbot.testing_processes import (
    clean_environ,
    free_port,
    http_get,
    start_process,
    stop_process,
    wait_http,
)

ANALYZE = "/api/v1/agents/analyze"
PROVIDERS = "/api/v1/agents/providers"
AS_OF = "2005-06-01T00:00:00Z"


@pytest.fixture(scope="module")
def llm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    script = Path(__file__).with_name("llm_server.py")
    cwd = tmp_path_factory.mktemp("llm")
    proc = start_process("llm", [sys.executable, str(script), str(port)], clean_environ(), cwd)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc, show_log=False)


@pytest.fixture(autouse=True)
def _llm_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUARKBOT_AGENTS_ALLOWLIST", '["127.0.0.1/32"]')
    monkeypatch.setenv("QUARKBOT_AGENTS_PRICE_PER_1K_TOKENS", '{"good": "0.5"}')
    monkeypatch.setenv("QUARKBOT_AGENTS_KNOWLEDGE_CUTOFFS", '{"good": "2024-01-01"}')
    monkeypatch.setenv("QUARKBOT_AGENTS_MAX_COST_PER_BACKTEST", "100")


def calls(server: str) -> dict[str, int]:
    status, body = http_get(f"{server}/calls")
    assert status == 200
    return dict(json.loads(body))


async def analyze_all(client: Any, trader: dict[str, str], run_worker: Any) -> dict[str, Any]:
    uids = {}
    for model in ("good", "retry", "garbage", "slow"):
        body = {
            "agent": "llm",
            "symbol": "GOOG",
            "as_of": AS_OF,
            "parameters": {"provider": "local", "model": model, "timeout_seconds": 1},
        }
        response = await client.post(ANALYZE, json=body, headers=trader)
        assert response.status_code == 202, await response.get_data(as_text=True)
        queued = await response.get_json()
        assert queued["channel"] == "agents:decisions"
        uids[model] = queued["decision_uid"]
    assert await run_worker() >= 4
    found = {}
    for model, uid in uids.items():
        response = await client.get(f"/api/v1/agents/decisions/{uid}", headers=trader)
        assert response.status_code == 200, await response.get_data(as_text=True)
        found[model] = await response.get_json()
    return found


async def test_llm_agent_retry_hold_tokens_and_replay(
    client: Any,
    import_bars: Any,
    admin: dict[str, str],
    trader: dict[str, str],
    run_worker: Any,
    llm_server: str,
) -> None:
    await import_bars("GOOG", rows=300)
    body = {"name": "local", "base_url": f"{llm_server}/v1", "api_key": "sk-secret-123"}
    response = await client.post(PROVIDERS, json=body, headers=admin)
    assert response.status_code == 201, await response.get_data(as_text=True)
    assert "sk-secret" not in await response.get_data(as_text=True)
    before = calls(llm_server)
    first = await analyze_all(client, trader, run_worker)
    made = {m: calls(llm_server).get(m, 0) - before.get(m, 0) for m in first}
    assert made == {"good": 1, "retry": 2, "garbage": 2, "slow": 1}

    good = first["good"]
    assert (good["action"], good["confidence"]) == ("BUY", 72)
    assert good["reasoning"] == "higher lows; volume rising"
    assert good["prompt_tokens"] > 100 and good["completion_tokens"] == 20
    assert float(good["cost"]) == pytest.approx((good["prompt_tokens"] + 20) / 1000 * 0.5)
    assert good["model"] == "good" and good["backend"] == "llm" and good["llm_calls"] == 1
    retry = first["retry"]
    assert retry["action"] == "BUY" and retry["llm_calls"] == 2
    assert retry["completion_tokens"] == 40
    garbage = first["garbage"]
    assert (garbage["action"], garbage["confidence"]) == ("HOLD", 0)
    assert "invalid answer after 2 tries" in garbage["reasoning"]
    slow = first["slow"]
    assert slow["action"] == "HOLD" and "timed out after 1 s" in slow["reasoning"]

    at_server = calls(llm_server)
    replay = await analyze_all(client, trader, run_worker)
    assert calls(llm_server) == at_server, "the replay called the server"
    for model, decision in replay.items():
        keys = ("action", "confidence", "reasoning", "input_hash", "prompt_tokens")
        assert [decision[k] for k in keys] == [first[model][k] for k in keys], model
        assert decision["cached"] is True and decision["llm_calls"] == 0
        assert float(decision["cost"]) == 0


async def test_redirects_are_not_followed(
    client: Any, import_bars: Any, admin: dict[str, str], trader: dict[str, str],
    run_worker: Any, llm_server: str,
) -> None:  # fmt: skip
    await import_bars("GOOG", rows=100)
    body = {"name": "local", "base_url": f"{llm_server}/v1"}
    assert (await client.post(PROVIDERS, json=body, headers=admin)).status_code == 201
    before = calls(llm_server)
    analyze = {"agent": "llm", "symbol": "GOOG", "as_of": AS_OF,
               "parameters": {"provider": "local", "model": "redirect"}}  # fmt: skip
    queued = await (await client.post(ANALYZE, json=analyze, headers=trader)).get_json()
    await run_worker()
    found = await client.get(f"/api/v1/agents/decisions/{queued['decision_uid']}", headers=trader)
    decision = await found.get_json()
    assert decision["action"] == "HOLD" and "provider error" in decision["reasoning"]
    after = calls(llm_server)
    assert after.get("redirect", 0) - before.get("redirect", 0) == 1
    assert after.get("followed", 0) == before.get("followed", 0)


async def test_providers_ssrf_and_keys(client: Any, admin: dict[str, str], trader: dict[str, str]):
    refused = [
        "http://169.254.169.254/latest",
        "http://10.1.2.3:11434/v1",
        "http://[::1]:8000/v1",
        "http://192.168.1.10/v1",
        "file:///etc/passwd",
        "http://user:pw@127.0.0.1/v1",
    ]
    for url in refused:
        body = {"name": "x", "base_url": url}
        response = await client.post(PROVIDERS, json=body, headers=admin)
        assert response.status_code == 422, url
        assert (await response.get_json())["detail"][0]["loc"] == ["body", "base_url"]
    body = {"name": "ok", "base_url": "http://127.0.0.1:9/v1", "api_key": "sk-abc"}
    assert (await client.post(PROVIDERS, json=body, headers=trader)).status_code == 403
    created = await (await client.post(PROVIDERS, json=body, headers=admin)).get_json()
    assert created["has_api_key"] is True and "api_key" not in created
    listed = await client.get(PROVIDERS, headers=admin)
    assert "sk-abc" not in await listed.get_data(as_text=True)
    body["api_key"] = ""
    kept = await client.put(f"{PROVIDERS}/{created['id']}", json=body, headers=admin)
    assert (await kept.get_json())["has_api_key"] is True


LLM_BACKTEST = {
    "agent": {"type": "llm", "parameters": {"provider": "local", "model": "good"}},
    "symbols": ["GOOG"],
    "start": "2004-09-01T00:00:00Z",
    "end": "2004-09-15T00:00:00Z",
}


async def llm_backtest(client: Any, trader: dict[str, str], run_worker: Any) -> dict[str, Any]:
    body = LLM_BACKTEST
    response = await client.post("/api/v1/backtests", json=body, headers=trader)
    assert response.status_code == 202, await response.get_data(as_text=True)
    backtest_id = (await response.get_json())["id"]
    await run_worker()
    found = await client.get(f"/api/v1/backtests/{backtest_id}", headers=trader)
    return dict(await found.get_json())


async def test_llm_backtest_flagged_and_replayed(
    client: Any, import_bars: Any, admin: dict[str, str], trader: dict[str, str],
    run_worker: Any, llm_server: str,
) -> None:  # fmt: skip
    await import_bars("GOOG", rows=100)
    body = {"name": "local", "base_url": f"{llm_server}/v1"}
    assert (await client.post(PROVIDERS, json=body, headers=admin)).status_code == 201
    before = calls(llm_server).get("good", 0)
    # 2 calls a bar at worst, (window x 20 + 300 + max_tokens) tokens a call, 0.5 per 1k
    costly = {**LLM_BACKTEST, "end": "2005-02-01T00:00:00Z"}
    refused = await client.post("/api/v1/backtests", json=costly, headers=trader)
    assert refused.status_code == 422
    assert "estimated cost" in (await refused.get_json())["detail"][0]["msg"]
    first = await llm_backtest(client, trader, run_worker)
    assert first["status"] == "complete", first["error"]
    metrics, bars = first["metrics"], len(first["equity"])
    assert bars == 9 and metrics["llm_calls"] == bars == calls(llm_server)["good"] - before
    assert metrics["backend"] == "local" and metrics["prompt_tokens"] > 0
    assert metrics["knowledge_cutoff"] == "2024-01-01" and metrics["before_knowledge_cutoff"]
    assert first["trades"][0]["reasoning"] == "higher lows; volume rising"
    at_server = calls(llm_server)
    again = await llm_backtest(client, trader, run_worker)
    assert calls(llm_server) == at_server  # the rerun asked nothing
    assert again["metrics"]["llm_calls"] == 0 and again["metrics"]["cached"] == bars
    assert again["trades"] == first["trades"] and again["equity"] == first["equity"]
