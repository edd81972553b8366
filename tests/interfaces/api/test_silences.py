"""`/api/v1/silences`: create and list; a new matching event is stored silenced."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from tests.ingestion import runtime_metric, stored_events
from tests.payloads import am_alert, am_body
from vigil.interfaces.runtime import Runtime
from vigil.pipeline.repository import StoredSilence, insert_silence
from vigil.platform.db import check_storable
from vigil.platform.settings import Matcher
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


async def test_a_bad_regex_past_end_or_out_of_range_time_is_422_not_a_trap(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    base = {"matchers": [{"name": "service", "value": "cart"}], "created_by": "ada"}
    later = (clock.now() + timedelta(hours=1)).isoformat()
    bodies = {
        "invalid regex": {**base, "ends_at": later,
                          "matchers": [{"name": "service", "value": "checkout(", "op": "=~"}]},
        "not in the future": {**base, "ends_at": (clock.now() - timedelta(hours=1)).isoformat()},
        "out of range": {**base, "ends_at": "9999-12-31T23:59:59-12:00"},
    }  # fmt: skip
    for problem, body in bodies.items():
        response = await client.post(URL, json=body)
        assert response.status_code == 422, response.text
        assert problem in response.json()["error"]["problem"]
    assert (await client.get(URL)).json() == []


async def test_expiring_a_silence_ends_it_now_and_keeps_it(
    runtime: Runtime, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    body = {
        "matchers": [{"name": "service", "value": "checkout"}],
        "ends_at": (clock.now() + timedelta(hours=1)).isoformat(),
        "created_by": "ada",
    }
    silence = (await client.post(URL, json=body)).json()
    other_tenant = await client.delete(f"{URL}/{silence['id']}", headers={"X-Vigil-Tenant": "x"})
    assert other_tenant.status_code == 404
    clock.advance(timedelta(minutes=5))
    expired = await client.delete(f"{URL}/{silence['id']}")
    assert expired.status_code == 200, expired.text
    assert expired.json()["ends_at"] == clock.now().isoformat().replace("+00:00", "Z")
    assert (await client.get(URL)).json() == []
    assert (await client.delete(f"{URL}/{silence['id']}")).status_code == 404

    alert = am_alert({"alertname": "HighErrorRatio", "service": "checkout"}, clock.now())
    await client.post("/api/v1/webhooks/alertmanager", content=am_body(alert))
    await runtime.processor.drain()
    assert [e.silenced_by for e in await stored_events(runtime)] == [None]


async def test_a_stored_silence_with_a_broken_regex_is_ignored_not_fatal(
    runtime: Runtime, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    broken = StoredSilence(
        id="01SILENCEBROKEN00000000000",
        tenant_id="default",
        matchers=[Matcher.model_construct(name="service", value="x(", op="=~")],
        starts_at=clock.now(),
        ends_at=clock.now() + timedelta(hours=1),
        created_by="before validation",
        comment="",
    )
    async with runtime.db.writing() as session:
        await insert_silence(session, broken, clock.now())
        await session.commit()
    alert = am_alert({"alertname": "HighErrorRatio", "service": "db"}, clock.now())
    assert (
        await client.post("/api/v1/webhooks/alertmanager", content=am_body(alert))
    ).status_code == 202
    await runtime.processor.drain()
    assert [e.service for e in await stored_events(runtime)] == ["db"]


async def test_expiring_a_silence_pages_the_alerts_it_held_back(
    runtime: Runtime, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    body = {
        "matchers": [{"name": "service", "value": "checkout"}],
        "ends_at": (clock.now() + timedelta(hours=4)).isoformat(),
        "created_by": "ada",
    }
    silence = (await client.post(URL, json=body)).json()
    alert = am_alert({"alertname": "HighErrorRatio", "service": "checkout"}, clock.now())
    await client.post("/api/v1/webhooks/alertmanager", content=am_body(alert))
    await runtime.processor.drain()
    assert (await client.get("/api/v1/incidents")).json()["items"] == []

    clock.advance(timedelta(minutes=20))  # the deploy is over, the alert still fires
    assert (await client.delete(f"{URL}/{silence['id']}")).status_code == 200
    assert await runtime.processor.lift_mutes() == 1
    (incident,) = (await client.get("/api/v1/incidents")).json()["items"]
    assert incident["services"] == ["checkout"]
    assert [e.silenced_by for e in await stored_events(runtime)] == [None]


async def test_deeply_nested_input_is_judged_not_a_crash(client: httpx.AsyncClient) -> None:
    # Within the JSON parser's limit, deeper than a recursive walk of it could go.
    deep = "[" * 950 + '"x"' + "]" * 950
    body = (
        '{"matchers": [{"name": "service", "value": "cart"}], "ends_at": '
        f'"2030-01-01T00:00:00Z", "created_by": "ada", "extra": {deep}}}'
    )
    response = await client.post(URL, content=body)
    assert response.status_code < 500, response.text


def test_text_is_looked_through_at_any_depth() -> None:
    deep: object = "a\0b"
    for _ in range(5000):
        deep = {"k": [deep]}
    with pytest.raises(ValueError, match="NUL"):
        check_storable(deep)
