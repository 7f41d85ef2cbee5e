"""The LLM agent: any OpenAI-compatible chat-completions server (OpenAI, Ollama, vLLM, LM
Studio, Groq) through the ``openai`` client with the provider's ``base_url``.

The answer must be a JSON object that validates into a :class:`Proposal`; an invalid one gets one
retry (the problem is sent back), then the agent HOLDs with the reason, as it does on a timeout
or an error. Every outcome is recorded under (model, prompt hash, input hash): the same question
again is answered from the record, with no call.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import json
import re
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from quarkbot.plugin_settings import settings_of
from quarkbot_plugins.agents import ssrf
from quarkbot_plugins.agents.contract import Context, Proposal, hold
from quarkbot_plugins.agents.models import AgentProvider, LlmRecord
from quarkbot_plugins.agents.settings import AgentsSettings

SYSTEM = (
    "You are a trading analyst. You see bars of one symbol up to a point in time and the "
    "account's position. Answer with ONE JSON object and nothing else: "
    '{"action": "BUY" | "SELL" | "HOLD", "confidence": integer 0-100, "reasoning": text, '
    '"size": optional number, "stop_loss": optional price, "take_profit": optional price, '
    '"horizon": optional text}.'
)
_semaphores: dict[int, asyncio.Semaphore] = {}


class LlmParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: str = Field(min_length=1, max_length=64)
    model: str = Field(min_length=1, max_length=100)
    window: int = Field(30, ge=1, le=500, description="Closed bars shown to the model.")
    instructions: str = Field("", max_length=2_000, description="Added to the system prompt.")
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=16, le=32_000)
    timeout_seconds: float | None = Field(None, gt=0, le=600)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def messages(ctx: Context, p: LlmParams) -> list[dict[str, str]]:
    bars = [
        [b.ts.isoformat(), b.open, b.high, b.low, b.close, b.volume] for b in ctx.bars(p.window)
    ]
    facts = {
        "symbol": ctx.symbol,
        "timeframe": ctx.timeframe,
        "as_of": ctx.as_of.isoformat(),
        "bars [ts, open, high, low, close, volume]": bars,
        "position": str(ctx.portfolio.position),
        "equity": str(ctx.portfolio.equity),
    }
    system = SYSTEM + (f"\n{p.instructions}" if p.instructions else "")
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": json.dumps(facts, sort_keys=True)},
    ]


def parse(symbol: str, content: str) -> Proposal:
    """The answer as a Proposal; ValueError (ValidationError) when it is not one."""
    found = re.search(r"\{.*\}", content, re.DOTALL)
    if found is None:
        raise ValueError("no JSON object in the answer")
    answer = json.loads(found.group(0))
    if not isinstance(answer, dict):
        raise ValueError("the answer is not a JSON object")
    known = {k: v for k, v in answer.items() if k in Proposal.model_fields and k != "symbol"}
    return Proposal.model_validate({**known, "symbol": symbol})


async def propose(ctx: Context, p: LlmParams) -> Proposal:
    settings = settings_of(AgentsSettings)
    chat = messages(ctx, p)
    prompt_hash, input_hash = _sha(chat[0]["content"]), _sha(chat[1]["content"])
    key = _sha(f"{p.model}|{prompt_hash}|{input_hash}")
    record = await LlmRecord.get_or_none(key=key)
    usage = ctx.usage
    usage.update(model=p.model, backend="llm")
    if record is None:
        record = await _ask(ctx, p, settings, chat, key, prompt_hash, input_hash)
        usage["llm_calls"] = usage.get("llm_calls", 0) + record.calls
        price = settings.price_per_1k_tokens.get(p.model, Decimal(0))
        tokens = record.prompt_tokens + record.completion_tokens
        usage["cost"] = float(usage.get("cost", 0.0)) + float(price * tokens / 1000)
    else:
        usage["cached"] = usage.get("cached", 0) + 1
    usage["prompt_tokens"] = usage.get("prompt_tokens", 0) + record.prompt_tokens
    usage["completion_tokens"] = usage.get("completion_tokens", 0) + record.completion_tokens
    if record.error is not None:
        return hold(ctx.symbol, f"llm {p.model}: {record.error}")
    return parse(ctx.symbol, record.content)


async def _ask(
    ctx: Context,
    p: LlmParams,
    settings: AgentsSettings,
    chat: list[dict[str, str]],
    key: str,
    prompt_hash: str,
    input_hash: str,
) -> LlmRecord:
    outcome = {"content": "", "error": None, "calls": 0, "prompt": 0, "completion": 0}
    try:
        await _converse(ctx.symbol, p, settings, chat, outcome)
    except ssrf.Refused as exc:
        outcome["error"] = f"provider refused: {exc}"
    record, _ = await LlmRecord.get_or_create(
        key=key,
        defaults={
            "model": p.model,
            "prompt_hash": prompt_hash,
            "input_hash": input_hash,
            "content": outcome["content"],
            "error": outcome["error"],
            "calls": outcome["calls"],
            "prompt_tokens": outcome["prompt"],
            "completion_tokens": outcome["completion"],
        },
    )
    return record


async def _converse(
    symbol: str,
    p: LlmParams,
    settings: AgentsSettings,
    chat: list[dict[str, str]],
    outcome: dict[str, Any],
) -> None:
    """Ask; on an invalid answer ask once more with the problem; fill ``outcome``."""
    provider = await AgentProvider.get_or_none(name=p.provider)
    if provider is None:
        raise ssrf.Refused(f"unknown provider {p.provider!r}")
    # DNS is blocking: resolve off the event loop
    await asyncio.to_thread(ssrf.check_url, provider.base_url, settings.allowlist)
    for attempt in range(2):
        content = await _call(provider, p, settings, chat, outcome)
        if content is None:
            return
        try:
            parse(symbol, content)
        except (ValueError, ValidationError) as exc:
            problem = str(exc).splitlines()[0][:300]
            outcome["error"] = f"invalid answer after {attempt + 1} tries: {problem}"
            chat = [*chat, {"role": "assistant", "content": content[:4_000]}]
            chat.append({"role": "user", "content": f"Invalid: {problem}. Answer only the JSON."})
            continue
        outcome["content"], outcome["error"] = content, None
        return


async def _call(
    provider: AgentProvider,
    p: LlmParams,
    settings: AgentsSettings,
    chat: list[dict[str, str]],
    outcome: dict[str, Any],
) -> str | None:
    """One completion's text; None (``outcome["error"]`` says why) on a timeout or error."""
    # openai takes seconds to import: in a thread, so the event loop (Redis, other jobs) runs on
    openai = await asyncio.to_thread(importlib.import_module, "openai")

    timeout = p.timeout_seconds or settings.timeout_seconds
    # no redirects: a public provider must not bounce a call to an address the guard refuses
    http = openai.DefaultAsyncHttpxClient(follow_redirects=False, timeout=timeout)
    client = openai.AsyncOpenAI(
        base_url=provider.base_url, api_key=provider.api_key or "none", timeout=timeout,
        max_retries=0, http_client=http,
    )  # fmt: skip
    outcome["calls"] += 1
    try:
        async with _semaphore(settings.concurrency):
            response = await client.chat.completions.create(
                model=p.model,
                messages=chat,
                temperature=settings.temperature if p.temperature is None else p.temperature,
                max_tokens=p.max_tokens or settings.max_tokens,
            )
    except openai.APITimeoutError:
        outcome["error"] = f"timed out after {timeout:g} s"
        return None
    except openai.OpenAIError as exc:
        outcome["error"] = f"provider error: {type(exc).__name__}: {str(exc)[:300]}"
        return None
    finally:
        await client.close()
    if response.usage is not None:
        outcome["prompt"] += response.usage.prompt_tokens
        outcome["completion"] += response.usage.completion_tokens
    return (response.choices[0].message.content or "") if response.choices else ""


def _semaphore(size: int) -> asyncio.Semaphore:
    loop = id(asyncio.get_running_loop())
    found = _semaphores.get(loop)
    if found is None:
        found = _semaphores[loop] = asyncio.Semaphore(size)
    return found
