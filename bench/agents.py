"""Agent backtests: decisions per second of an offline agent over 2,000 bars, and the replay run
against the first; the LLM agent's first run (a local OpenAI-compatible server process on
loopback serving recorded completions) against its replay (answers from the record, no call).

One process builds the real app (``quarkbot.app.create_app``) on a fresh SQLite file and the
embedded Redis (or ``--redis-url``), and times ``simulate`` of the agents plugin (the loop an
agent backtest runs: a fenced context per bar, the agent, the simulated fills) on a
deterministic random walk of daily bars. The replay of an offline agent is the same run again
(it must give identical decisions); the LLM replay reads every answer from the record.

    python bench/agents.py                 # 2,000 bars offline, 300 bars LLM
    python bench/agents.py --bars 5000 --llm-bars 500
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import random
import secrets
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import header, save_results

ROOT = Path(__file__).resolve().parents[1]
LLM_SERVER = ROOT / "tests" / "agents" / "llm_server.py"


def walk(count: int, seed: int = 7) -> list[Any]:
    from quarkbot_plugins.agents.api import BarView

    rng = random.Random(seed)
    start, price, bars = datetime(2015, 1, 1, tzinfo=UTC), 100.0, []
    for i in range(count):
        close = max(1.0, price * (1 + rng.gauss(0.0003, 0.02)))
        high, low = max(price, close) * 1.01, min(price, close) * 0.99
        bars.append(BarView(start + timedelta(days=i), price, high, low, close, 1000.0))
        price = close
    return bars


async def timed(agent: Any, params: Any, bars: list[Any]) -> tuple[float, dict[str, Any]]:
    from quarkbot_plugins.agents.simulate import simulate

    started = time.perf_counter()
    result = await simulate(agent, params, "BENCH", "1d", timedelta(days=1), bars, 10_000.0)
    return time.perf_counter() - started, result


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


async def offline(bars: list[Any]) -> dict[str, Any]:
    from quarkbot_plugins.agents.api import agent_types

    out: dict[str, Any] = {}
    for name in ("technical", "committee"):
        agent = agent_types()[name]
        params = agent.validate({})
        first_s, first = await timed(agent, params, bars)
        replay_s, replay = await timed(agent, params, bars)
        out[name] = {
            "bars": len(bars),
            "first_decisions_per_s": rate(len(bars), first_s),
            "replay_decisions_per_s": rate(len(bars), replay_s),
            "identical": first["trades"] == replay["trades"],
            "trades": len(first["trades"]),
        }
    return out


async def llm(bars: list[Any], port: int) -> dict[str, Any]:
    from quarkbot_plugins.agents.api import agent_types
    from quarkbot_plugins.agents.models import AgentProvider

    await AgentProvider.create(name="bench", base_url=f"http://127.0.0.1:{port}/v1",
                               created_by="bench")  # fmt: skip
    agent = agent_types()["llm"]
    params = agent.validate({"provider": "bench", "model": "good", "window": 20})
    calls_before = server_calls(port)
    first_s, first = await timed(agent, params, bars)
    calls_first = server_calls(port) - calls_before
    replay_s, replay = await timed(agent, params, bars)
    calls_replay = server_calls(port) - calls_before - calls_first
    return {
        "bars": len(bars),
        "first_decisions_per_s": rate(len(bars), first_s),
        "replay_decisions_per_s": rate(len(bars), replay_s),
        "server_calls_first": calls_first,
        "server_calls_replay": calls_replay,
        "identical": first["trades"] == replay["trades"],
        "tokens_first": first["usage"]["prompt_tokens"] + first["usage"]["completion_tokens"],
    }


def server_calls(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/calls", timeout=5) as answer:
        return sum(json.loads(answer.read()).values())


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from quarkbot.app import create_app
    from quarkbot.settings import JWTSettings, Settings
    from quarkbot.testing_processes import (
        clean_environ,
        free_port,
        start_process,
        stop_process,
        wait_http,
    )

    data_dir = Path(tempfile.mkdtemp(prefix="qb-bench-agents-"))
    settings = Settings(
        _env_file=None,
        data_dir=data_dir,
        database_url=f"sqlite://{data_dir / 'bench.sqlite3'}",
        redis_url=args.redis_url,
        redis_prefix=f"qbbench-{uuid.uuid4().hex[:8]}",
        auto_migrate=True,
        bootstrap_admin=False,
        jwt=JWTSettings(secret=SecretStr(secrets.token_urlsafe(48))),
        api_key_secret=SecretStr(secrets.token_urlsafe(48)),
    )
    port = free_port()
    import os

    os.environ["QUARKBOT_AGENTS_ALLOWLIST"] = '["127.0.0.1/32"]'
    # only what agents need (startup of the others is not measured here)
    os.environ.setdefault("QUARKBOT_DISABLED_PLUGINS", "strategies,backtests,demo,metrics,alerts")
    server = start_process("llm", [sys.executable, str(LLM_SERVER), str(port)], clean_environ(),
                           data_dir)  # fmt: skip
    try:
        wait_http(f"http://127.0.0.1:{port}/health", server)
        app = create_app(settings)
        async with app.test_app_class(app, startup_timeout=600):
            report = {"offline": await offline(walk(args.bars))}
            report["llm"] = await llm(walk(args.llm_bars, seed=11), port)
    finally:
        stop_process(server, show_log=False)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bars", type=int, default=2000)
    parser.add_argument("--llm-bars", type=int, default=300)
    parser.add_argument("--redis-url", default=None)
    args = parser.parse_args()
    importlib.import_module("quarkbot_plugins")
    header("agents: agent backtest decisions per second, first run vs replay")
    report = asyncio.run(run(args))
    for name, r in report["offline"].items():
        print(
            f"   {name:10s} {r['bars']} bars: first {r['first_decisions_per_s']:8.1f} dec/s, "
            f"replay {r['replay_decisions_per_s']:8.1f} dec/s, identical {r['identical']}, "
            f"{r['trades']} trades"
        )
    r = report["llm"]
    print(
        f"   llm        {r['bars']} bars: first {r['first_decisions_per_s']:8.1f} dec/s "
        f"({r['server_calls_first']} calls), replay {r['replay_decisions_per_s']:8.1f} dec/s "
        f"({r['server_calls_replay']} calls), identical {r['identical']}"
    )
    print(f"   results: {save_results('agents', report)}")


if __name__ == "__main__":
    main()
