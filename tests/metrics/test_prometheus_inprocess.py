"""GET /metrics in-process: the text format, its protection, recorded and sampled metrics."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from quarkbot.settings import Settings

from .conftest import place

SCRAPE_TOKEN = secrets.token_urlsafe(32)


@pytest.fixture
def quarkbot_settings(quarkbot_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("QUARKBOT_METRICS_SCRAPE_TOKEN", SCRAPE_TOKEN)
    return quarkbot_settings


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def scrape(client: Any, headers: dict[str, str]) -> Any:
    return await client.get("/metrics", headers=headers)


async def test_scrape_needs_the_token_or_an_admin(client: Any, auth_headers: Any) -> None:
    assert (await scrape(client, {})).status_code == 401
    assert (await scrape(client, {"Authorization": "Bearer wrong-token"})).status_code == 401
    viewer = await auth_headers("viewer")
    assert (await scrape(client, viewer)).status_code == 403
    admin = await auth_headers("admin")
    assert (await scrape(client, admin)).status_code == 200
    response = await scrape(client, {"Authorization": f"Bearer {SCRAPE_TOKEN}"})
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    # the scrape token opens nothing else
    other = await client.get("/api/v1/metrics", headers={"Authorization": f"Bearer {SCRAPE_TOKEN}"})
    assert other.status_code == 401


async def test_orders_appear_as_series(
    client: Any, instruments: list[str], trader: dict[str, str], engine: Any
) -> None:
    for n in range(3):
        status, body = await place(
            client, trader, symbol="BTC-USD", quantity="0.01", client_order_id=f"m-{n}"
        )
        assert status == 201, body
    await engine.step()
    token = {"Authorization": f"Bearer {SCRAPE_TOKEN}"}
    text = await (await scrape(client, token)).get_data(as_text=True)
    found = samples(text)
    assert sum(v for (name, _l), v in found.items() if name == "quarkbot_orders") == 3
    assert found[("quarkbot_fills_total", (("side", "buy"),))] == 3
    assert found[("quarkbot_order_fill_latency_seconds_count", ())] == 3
    assert found[("quarkbot_equity", ())] > 0
    assert ("quarkbot_order_events_total", (("event", "filled"),)) in found


def test_label_cardinality_is_bounded(tmp_path: Any) -> None:
    from quarkbot.contrib import Metric
    from quarkbot_plugins.metrics import recorder
    from quarkbot_plugins.metrics.sampling import recorded

    metric = Metric("probe_codes", "counter", "Codes", labels=("code",), max_series=3)
    rec = recorder.Recorder(tmp_path, [metric])
    for n in range(10):
        rec.inc("probe_codes", labels={"code": f"C{n}"})
    totals = recorded(tmp_path, [metric])["probe_codes"]
    assert totals == {("C0",): 1.0, ("C1",): 1.0, ("C2",): 1.0, ("other",): 7.0}
    recorder.deactivate()
