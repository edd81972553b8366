"""`/api/v1/incidents` and `/api/v1/stats` over HTTP, on both databases."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import T0, MakeClient, MakeRuntime
from tests.incidents.conftest import CATALOG, fire
from tests.ingestion import ingest
from tests.payloads import am_alert, am_body, generic_body, generic_event
from vigil.incidents.tables import incident_feedback
from vigil.interfaces.runtime import Runtime
from vigil.testing.clock import FakeClock


@pytest.fixture
async def runtime(make_runtime: MakeRuntime, tmp_path: Path) -> Runtime:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CATALOG)
    return await make_runtime(catalog_path=catalog)


@pytest.fixture
async def client(runtime: Runtime, make_client: MakeClient) -> httpx.AsyncClient:
    return await make_client(runtime)


async def _two_incidents(runtime: Runtime) -> None:
    """payments + checkout (one failure), and search on its own."""
    await fire(runtime, "HighLatencyP99", "payments", T0)
    await fire(runtime, "HighErrorRatio", "checkout", T0 + timedelta(minutes=1))
    await fire(runtime, "IndexLag", "search", T0 + timedelta(minutes=2))


async def _ids(client: httpx.AsyncClient, **params: str) -> list[str]:
    response = await client.get("/api/v1/incidents", params=params)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def test_list_filters_and_detail(runtime: Runtime, client: httpx.AsyncClient) -> None:
    await _two_incidents(runtime)

    everything = (await client.get("/api/v1/incidents")).json()["items"]
    assert [(i["services"], i["priority"]) for i in everything] == [
        (["search"], "P1"), (["checkout", "payments"], "P0"),
    ]  # fmt: skip
    assert await _ids(client, service="payments") == [everything[1]["id"]]
    assert await _ids(client, priority="P1") == [everything[0]["id"]]
    assert await _ids(client, state="resolved") == []
    page = (await client.get("/api/v1/incidents", params={"limit": 1})).json()
    assert page["next"] == everything[0]["id"]
    assert await _ids(client, before=page["next"]) == [everything[1]["id"]]

    detail = (await client.get(f"/api/v1/incidents/{everything[1]['id']}")).json()
    assert [m["reason"] for m in detail["members"]] == ["first alert", "checkout calls payments"]
    assert detail["allowed_triggers"] == ["acknowledge", "investigate", "resolve"]
    assert [t["kind"] for t in detail["timeline"]] == ["detected", "alert_attached"]

    missing = await client.get("/api/v1/incidents/nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["problem"] == "no incident 'nope'"
    bad = await client.get("/api/v1/incidents", params={"priority": "P9"})
    assert bad.status_code == 422


async def test_lifecycle_over_http(runtime: Runtime, client: httpx.AsyncClient) -> None:
    await fire(runtime, "HighLatencyP99", "payments", T0)
    (incident_id,) = await _ids(client)
    url = f"/api/v1/incidents/{incident_id}"

    runtime.clock.set(T0 + timedelta(minutes=3))  # type: ignore[attr-defined]
    ack = {"trigger": "acknowledge", "actor": "ana", "reason": "on it"}
    acked = await client.post(f"{url}/transitions", json=ack)
    assert acked.status_code == 200, acked.text
    assert (acked.json()["state"], acked.json()["mtta_seconds"]) == ("acknowledged", 180.0)

    illegal = await client.post(f"{url}/transitions", json={"trigger": "learn", "actor": "ana"})
    assert illegal.status_code == 409
    assert illegal.json()["error"]["problem"] == (
        "cannot learn an incident that is acknowledged; allowed: investigate, mitigate, resolve"
    )
    unknown = await client.post(f"{url}/transitions", json={"trigger": "explode", "actor": "a"})
    assert unknown.status_code == 422

    noted = await client.post(f"{url}/notes", json={"actor": "ana", "text": "db is slow"})
    assert noted.status_code == 201
    runtime.clock.set(T0 + timedelta(minutes=10))  # type: ignore[attr-defined]
    for trigger in ("investigate", "mitigate", "resolve"):
        moved = await client.post(f"{url}/transitions", json={"trigger": trigger, "actor": "ana"})
        assert moved.status_code == 200, moved.text
    done = moved.json()
    assert (done["state"], done["mttr_seconds"]) == ("resolved", 600.0)
    assert [(t["kind"], t["actor"]) for t in done["timeline"]][1:] == [
        ("state_changed", "ana"), ("note", "ana"), ("state_changed", "ana"),
        ("state_changed", "ana"), ("state_changed", "ana"),
    ]  # fmt: skip
    assert done["timeline"][1]["summary"] == "detected → acknowledged (acknowledge): on it"

    stats = (await client.get("/api/v1/stats")).json()
    assert stats["alerts_in"] == 1
    assert stats["incidents_out"] == 1
    assert (stats["mtta_seconds_median"], stats["mttr_seconds_median"]) == (180.0, 600.0)


async def test_times_from_alerts_never_run_before_a_person_s(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    """An alert stamped a little ahead (the sender's clock) or resolved late: MTTA and
    MTTR are never negative, and the timeline stays in the order things were done."""
    clock = runtime.clock
    assert isinstance(clock, FakeClock)
    clock.set(T0)
    ahead = am_body(
        am_alert({"alertname": "DiskFull", "service": "payments"}, T0 + timedelta(minutes=4))
    )
    await ingest(runtime, "alertmanager", ahead)
    await runtime.processor.drain()
    (incident_id,) = await _ids(client)
    url = f"/api/v1/incidents/{incident_id}/transitions"
    acked = (await client.post(url, json={"trigger": "acknowledge", "actor": "ana"})).json()
    assert acked["mtta_seconds"] == 0.0
    assert acked["detected_at"] == "2026-11-21T12:10:00Z"  # when processed, not ahead

    await fire(runtime, "HighLatencyP99", "checkout", T0 + timedelta(minutes=10))
    other = next(i for i in await _ids(client) if i != incident_id)
    clock.set(T0 + timedelta(minutes=13))
    await client.post(
        f"/api/v1/incidents/{other}/transitions", json={"trigger": "acknowledge", "actor": "ana"}
    )
    # Its alert resolved at minute 11, delivered at minute 14: after the person acted.
    await fire(runtime, "HighLatencyP99", "checkout", T0 + timedelta(minutes=11), status="resolved")
    done = (await client.get(f"/api/v1/incidents/{other}")).json()
    assert done["state"] == "resolved"
    assert done["mttr_seconds"] >= done["mtta_seconds"] == 180.0
    assert [t["kind"] for t in done["timeline"]][-2:] == ["state_changed", "state_changed"]
    assert done["timeline"][-1]["summary"].startswith("acknowledged → resolved")


async def test_a_person_s_first_move_answers_the_page(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    """Resolved straight from detected by a person: MTTA counts that move."""
    await fire(runtime, "HighLatencyP99", "payments", T0)
    (incident_id,) = await _ids(client)
    runtime.clock.set(T0 + timedelta(minutes=5))  # type: ignore[attr-defined]
    url = f"/api/v1/incidents/{incident_id}/transitions"
    done = (await client.post(url, json={"trigger": "resolve", "actor": "ana"})).json()
    assert (done["mtta_seconds"], done["mttr_seconds"]) == (300.0, 300.0)


async def test_merge_and_split_are_kept_as_feedback(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    await _two_incidents(runtime)
    search_id, shop_id = await _ids(client)

    merged = await client.post(f"/api/v1/incidents/{shop_id}/merge",
                               json={"incidents": [search_id, search_id], "actor": "ana",
                                     "reason": "search reads payments"})  # fmt: skip
    assert merged.status_code == 200, merged.text
    assert merged.json()["services"] == ["checkout", "payments", "search"]
    assert merged.json()["alert_count"] == 3
    # Named twice, merged once.
    assert [t["kind"] for t in merged.json()["timeline"]].count("merged") == 1
    assert await _ids(client) == [shop_id]
    gone = await client.post(f"/api/v1/incidents/{search_id}/notes",
                             json={"actor": "ana", "text": "x"})  # fmt: skip
    assert gone.status_code == 422
    assert gone.json()["error"]["problem"] == f"incident {search_id} was merged into {shop_id}"

    members = merged.json()["members"]
    search_event = next(m["event_id"] for m in members if m["service"] == "search")
    split = await client.post(f"/api/v1/incidents/{shop_id}/split",
                              json={"event_ids": [search_event], "actor": "bo",
                                    "reason": "unrelated after all"})  # fmt: skip
    assert split.status_code == 201, split.text
    new = split.json()
    assert (new["services"], new["state"], new["alert_count"]) == (["search"], "detected", 1)
    assert sorted(await _ids(client)) == sorted([shop_id, new["id"]])
    remaining = (await client.get(f"/api/v1/incidents/{shop_id}")).json()
    assert remaining["services"] == ["checkout", "payments"]
    all_of_it = await client.post(f"/api/v1/incidents/{new['id']}/split",
                                  json={"event_ids": [search_event], "actor": "bo"})  # fmt: skip
    assert all_of_it.status_code == 422

    async with runtime.db.session() as session:
        rows = (
            (
                await session.execute(
                    sa.select(incident_feedback).order_by(incident_feedback.c.created_at)
                )
            )
            .mappings()
            .all()
        )
    assert [(r["kind"], r["actor"], r["reason"]) for r in rows] == [
        ("merge", "ana", "search reads payments"), ("split", "bo", "unrelated after all"),
    ]  # fmt: skip


async def test_text_holding_a_nul_is_422_on_every_database(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    await fire(runtime, "HighLatencyP99", "payments", T0)
    (incident_id,) = await _ids(client)
    url = f"/api/v1/incidents/{incident_id}"
    for path, body in (
        (f"{url}/notes", {"actor": "ana", "text": "n\0te"}),
        (f"{url}/transitions", {"trigger": "acknowledge", "actor": "a\0a"}),
        ("/api/v1/silences", {"matchers": [{"name": "service", "value": "x\0"}],
                              "ends_at": "2030-01-01T00:00:00Z", "created_by": "ana"}),
    ):  # fmt: skip
        refused = await client.post(path, json=body)
        assert refused.status_code == 422, refused.text
        assert "NUL" in refused.json()["error"]["problem"]


async def _transition(client: httpx.AsyncClient, incident_id: str, trigger: str) -> None:
    moved = await client.post(
        f"/api/v1/incidents/{incident_id}/transitions", json={"trigger": trigger, "actor": "ana"}
    )
    assert moved.status_code == 200, moved.text


async def test_a_merge_keeps_the_first_detection_and_acknowledgement(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    await _two_incidents(runtime)
    search_id, shop_id = await _ids(client)
    runtime.clock.set(T0 + timedelta(minutes=7))  # type: ignore[attr-defined]
    await _transition(client, shop_id, "acknowledge")  # 7 minutes after T0
    merged = await client.post(
        f"/api/v1/incidents/{search_id}/merge", json={"incidents": [shop_id], "actor": "ana"}
    )
    detail = merged.json()
    # One failure: detected at T0 (payments), answered at +7 min; not search's +2 min.
    assert (detail["state"], detail["mtta_seconds"]) == ("acknowledged", 420.0)
    stats = (await client.get("/api/v1/stats")).json()
    assert (stats["incidents_out"], stats["mtta_seconds_median"]) == (1, 420.0)


async def test_alerts_split_off_a_resolved_incident_make_a_resolved_one(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    await fire(runtime, "HighLatencyP99", "payments", T0)
    await fire(runtime, "HighErrorRatio", "checkout", T0 + timedelta(minutes=1))
    await fire(runtime, "HighLatencyP99", "payments", T0 + timedelta(minutes=4), status="resolved")
    await fire(runtime, "HighErrorRatio", "checkout", T0 + timedelta(minutes=5), status="resolved")
    (shop_id,) = await _ids(client)
    shop = (await client.get(f"/api/v1/incidents/{shop_id}")).json()
    assert shop["state"] == "resolved"
    checkout = next(m["event_id"] for m in shop["members"] if m["service"] == "checkout")
    split = await client.post(
        f"/api/v1/incidents/{shop_id}/split", json={"event_ids": [checkout], "actor": "bo"}
    )
    new = split.json()
    assert (new["state"], new["resolved_at"]) == ("resolved", shop["resolved_at"])
    assert (await client.get("/api/v1/stats")).json()["open_incidents"] == 0


async def test_stats_count_by_arrival_and_only_alerts(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    """An alert that started long before it arrived opens its incident in the window it
    arrived in; deploys are not alerts; an incident open now is open whatever the window."""
    runtime.clock.set(T0 + timedelta(hours=1))  # type: ignore[attr-defined]
    for i in range(3):  # three disks of one failure, all full since T0
        labels = {"alertname": "DiskFull", "service": "db", "severity": "critical"}
        await ingest(runtime, "alertmanager", am_body(am_alert({**labels, "disk": f"d{i}"}, T0)))
        runtime.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    deploy = generic_body(generic_event("deploy db 1.2", T0, event_type="change"))
    await ingest(runtime, "generic", deploy)
    since = (T0 + timedelta(minutes=30)).isoformat()
    stats = (await client.get("/api/v1/stats", params={"since": since})).json()
    assert (stats["alerts_in"], stats["incidents_out"], stats["open_incidents"]) == (3, 1, 1)
    later = (T0 + timedelta(hours=2)).isoformat()
    stats = (await client.get("/api/v1/stats", params={"since": later})).json()
    assert (stats["alerts_in"], stats["incidents_out"], stats["open_incidents"]) == (0, 0, 1)
