"""`/healthz`, `/readyz` and `/metrics`."""

from __future__ import annotations

import httpx

from tests.conftest import DbTarget, MakeClient
from tests.ingestion import accept, metric_value
from tests.payloads import REAL_ALERTMANAGER
from vigil.interfaces.runtime import Runtime
from vigil.platform import load_settings
from vigil.wiring import build_runtime


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readyz_when_migrated(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "schema": "ok"}


async def test_readyz_before_migration(database: DbTarget, make_client: MakeClient) -> None:
    runtime = build_runtime(load_settings(**database.overrides()))
    await runtime.start(migrate=False, background=False)
    try:
        response = await (await make_client(runtime)).get("/readyz")
    finally:
        await runtime.stop()
    assert response.status_code == 503
    assert response.json() == {"status": "unready", "database": "ok", "schema": "at None"}


async def test_readyz_when_database_is_unreachable(make_client: MakeClient) -> None:
    runtime = build_runtime(load_settings(database_url="postgresql://nobody@127.0.0.1:1/none"))
    try:
        response = await (await make_client(runtime)).get("/readyz")
    finally:
        await runtime.db.dispose()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unready"
    assert body["database"].startswith("unreachable: ")


async def test_metrics_show_backlog_and_counts(runtime: Runtime, client: httpx.AsyncClient) -> None:
    await accept(runtime, "alertmanager", REAL_ALERTMANAGER)
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert metric_value(response.text, "vigil_intake_backlog") == 1
    assert metric_value(response.text, "vigil_webhooks_received_total") == 1
    await runtime.processor.drain()
    after = (await client.get("/metrics")).text
    assert metric_value(after, "vigil_intake_backlog") == 0
    assert metric_value(after, "vigil_events_accepted_total", source="alertmanager") == 1
    assert metric_value(after, "vigil_processing_latency_seconds_count") == 1
