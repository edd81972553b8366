"""`GET /api/v1/anomalies`: what the detectors raised within the window, newest first,
with the evidence; a bad window is a 422 naming the problem."""

from __future__ import annotations

import httpx

from tests.conftest import T0
from tests.detection.signals import anomaly
from vigil.interfaces.runtime import Runtime
from vigil.testing.clock import FakeClock


async def _store(runtime: Runtime, clock: FakeClock) -> None:
    for event in (anomaly("search", 120), anomaly("payments", 30), anomaly("checkout", 5)):
        clock.set(event.received_at)
        await runtime.processor.process_events([event])
    clock.set(T0)


async def test_anomalies_within_the_window(
    runtime: Runtime, clock: FakeClock, client: httpx.AsyncClient
) -> None:
    await _store(runtime, clock)
    response = await client.get("/api/v1/anomalies")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["window"] == "1h"
    assert body["since"] == "2026-11-21T11:10:00Z"
    assert [item["service"] for item in body["items"]] == ["checkout", "payments"]
    first = body["items"][0]
    assert first["detector"] == "metric_anomaly"
    assert first["status"] == "firing"
    assert first["severity"] == "critical"
    assert first["evidence"]["expected"] == 100.0
    assert first["evidence"]["sigmas"] == 9.0
    assert first["title"].startswith("latency on checkout: 140 is +9.0 robust sigmas")

    wide = (await client.get("/api/v1/anomalies", params={"window": "3h"})).json()
    assert len(wide["items"]) == 3
    only = await client.get("/api/v1/anomalies", params={"service": "payments", "window": "3h"})
    assert [item["service"] for item in only.json()["items"]] == ["payments"]


async def test_bad_window_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/anomalies", params={"window": "soon"})
    assert response.status_code == 422
    assert "is not a number and a unit" in response.json()["error"]["problem"]
    huge = await client.get("/api/v1/anomalies", params={"window": "1000000d"})
    assert huge.status_code == 422
    assert huge.json()["error"]["problem"] == "window '1000000d' is longer than 3660 days"
