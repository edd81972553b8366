"""`/api/v1/silences`: create and list; a new matching event is stored silenced."""

from __future__ import annotations

from datetime import timedelta

import httpx

from tests.ingestion import runtime_metric, stored_events
from tests.payloads import am_alert, am_body
from vigil.interfaces.runtime import Runtime
from vigil.testing.clock import FakeClock

URL = "/api/v1/silences"


async def test_create_list_and_silence_new_events(
    runtime: Runtime, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    ends = clock.now() + timedelta(hours=1)
    created = await client.post(
        URL,
        json={
            "matchers": [
                {"name": "service", "value": "checkout"},
                {"name": "alertname", "value": "High.*", "op": "=~"},
            ],
            "ends_at": ends.isoformat(),
            "created_by": "ada",
            "comment": "rolling back",
        },
    )
    assert created.status_code == 201, created.text
    silence = created.json()
    assert silence["starts_at"] == clock.now().isoformat().replace("+00:00", "Z")
    assert silence["created_by"] == "ada"
    listed = (await client.get(URL)).json()
    assert listed == [silence]
    assert (await client.get(URL, headers={"X-Vigil-Tenant": "acme"})).json() == []

    now = clock.now()
    body = am_body(
        am_alert({"alertname": "HighErrorRatio", "service": "checkout"}, now),
        am_alert({"alertname": "HighErrorRatio", "service": "cart"}, now),
        am_alert({"alertname": "DiskFull", "service": "checkout"}, now),
    )
    assert (await client.post("/api/v1/webhooks/alertmanager", content=body)).status_code == 202
    await runtime.processor.drain()
    got = {(e.labels["alertname"], e.service): e.silenced_by for e in await stored_events(runtime)}
    assert got == {
        ("HighErrorRatio", "checkout"): f"silence:{silence['id']}",
        ("HighErrorRatio", "cart"): None,
        ("DiskFull", "checkout"): None,
    }
    assert runtime_metric(runtime, "vigil_events_silenced_total") == 1
    listed_events = (await client.get("/api/v1/events", params={"service": "checkout"})).json()
    assert {e["silenced_by"] for e in listed_events["items"]} == {f"silence:{silence['id']}", None}

    clock.advance(timedelta(hours=2))
    assert (await client.get(URL)).json() == []  # expired


async def test_invalid_silences_are_422(client: httpx.AsyncClient, clock: FakeClock) -> None:
    now = clock.now()
    backwards = {
        "matchers": [{"name": "service", "value": "cart"}],
        "starts_at": (now + timedelta(hours=2)).isoformat(),
        "ends_at": (now + timedelta(hours=1)).isoformat(),
        "created_by": "ada",
    }
    no_matchers = {**backwards, "matchers": [], "starts_at": None}
    naive = {**backwards, "starts_at": None, "ends_at": "2026-11-21T13:00:00"}
    bad_op = {**backwards, "starts_at": None, "matchers": [{"name": "a", "value": "b", "op": "~"}]}
    for body in (backwards, no_matchers, naive, bad_op):
        response = await client.post(URL, json=body)
        assert response.status_code == 422, body
        assert response.json()["error"]["field"].startswith("body")
    assert (await client.get(URL)).json() == []
