"""LLM providers, configured by admins. The API key is stored but never returned; the base_url
passes the SSRF guard when saved (and again before every call)."""

from __future__ import annotations

import asyncio
from typing import Any

from quarkbot.errors import Conflict, Invalid, problem
from quarkbot.pagination import get_or_404
from quarkbot.plugin_settings import settings_of
from quarkbot_plugins.agents import ssrf
from quarkbot_plugins.agents.models import AgentProvider
from quarkbot_plugins.agents.schemas import ProviderIn, ProviderOut
from quarkbot_plugins.agents.settings import AgentsSettings


def out(row: AgentProvider) -> ProviderOut:
    return ProviderOut(
        id=row.id,
        name=row.name,
        base_url=row.base_url,
        models=row.models,
        has_api_key=bool(row.api_key),
        created_by=row.created_by,
        created_at=row.created_at,
    )


async def checked_url(url: str) -> str:
    try:
        allowlist = settings_of(AgentsSettings).allowlist
        return await asyncio.to_thread(ssrf.check_url, url, allowlist)  # DNS is blocking
    except ssrf.Refused as exc:
        raise Invalid([problem(["body", "base_url"], str(exc), "ssrf_refused")]) from exc


async def save(data: ProviderIn, actor: str, provider_id: int | None = None) -> AgentProvider:
    fields: dict[str, Any] = data.model_dump() | {"base_url": await checked_url(data.base_url)}
    if provider_id is None:
        if await AgentProvider.exists(name=data.name):
            raise Conflict(f"provider {data.name!r} exists", code="PROVIDER_EXISTS")
        return await AgentProvider.create(**fields, created_by=actor)
    row = await get_or_404(AgentProvider, "Provider not found", id=provider_id)
    if not data.api_key:
        fields.pop("api_key")  # keep the stored key when none is given
    row.update_from_dict(fields)
    await row.save()
    return row
