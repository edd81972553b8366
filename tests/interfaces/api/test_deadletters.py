"""`/api/v1/dead-letters`: list (newest first, pending, pages), one, and replay."""

from __future__ import annotations

from datetime import timedelta

import httpx

from tests.conftest import MakeClient, MakeRuntime
from tests.ingestion import stored_events
from tests.payloads import REAL_ALERTMANAGER, generic_body, generic_event
from vigil.interfaces.runtime import Runtime
from vigil.testing.clock import FakeClock

URL = "/api/v1/dead-letters"


async def test_list_get_and_pages(client: httpx.AsyncClient, clock: FakeClock) -> None:
    ids = []
    for n in range(3):
        response = await client.post("/api/v1/webhooks/alertmanager", content=b"broken %d" % n)
        ids.append(response.json()["error"]["dead_letter_id"])
        clock.advance(timedelta(seconds=1))

    listed = (await client.get(URL)).json()
    assert [d["id"] for d in listed["items"]] == ids[::-1]
    assert listed["next"] is None
    first = (await client.get(URL, params={"limit": 2})).json()
    rest = (await client.get(URL, params={"limit": 2, "before": first["next"]})).json()
    assert [d["id"] for d in first["items"] + rest["items"]] == ids[::-1]

    one = (await client.get(f"{URL}/{ids[0]}")).json()
    assert one["payload"] == "broken 0"
    assert (one["source"], one["kind"], one["stage"]) == ("alertmanager", "payload", "parse")
    assert "not valid JSON" in one["reason"]
    assert one["replayed_at"] is None
    missing = await client.get(f"{URL}/01NOSUCHDEADLETTER00000000")
    assert missing.status_code == 404
    assert missing.json()["error"]["status"] == 404
    assert (await client.get(URL, headers={"X-Vigil-Tenant": "acme"})).json()["items"] == []


async def test_replay_endpoint(
    make_runtime: MakeRuntime, make_client: MakeClient, clock: FakeClock
) -> None:
    runtime: Runtime = await make_runtime(max_future_skew_seconds=60)
    client = await make_client(runtime)
    ahead = generic_event("from the future", clock.now() + timedelta(minutes=30))
    accepted = await client.post("/api/v1/webhooks/generic", content=generic_body(ahead))
    assert accepted.status_code == 202  # the payload is fine; the event fails later
    bad = await client.post("/api/v1/webhooks/alertmanager", content=REAL_ALERTMANAGER[:-2])
    assert bad.status_code == 400
    await runtime.processor.drain()
    letters = {d["kind"]: d for d in (await client.get(URL)).json()["items"]}
    assert letters["event"]["stage"] == "validate"
    assert letters["event"]["field"] == "ts"

    failed = await client.post(f"{URL}/{letters['payload']['id']}/replay")
    assert failed.status_code == 200
    assert failed.json()["ok"] is False
    assert failed.json()["detail"].startswith("still failing: body is not valid JSON")

    clock.advance(timedelta(minutes=30))
    replayed = (await client.post(f"{URL}/{letters['event']['id']}/replay")).json()
    assert replayed["ok"] is True
    (event,) = await stored_events(runtime)
    assert replayed == {
        "dead_letter_id": letters["event"]["id"],
        "ok": True,
        "detail": f"stored as event {event.id}",
    }
    pending = (await client.get(URL, params={"pending": "true"})).json()["items"]
    assert [d["id"] for d in pending] == [letters["payload"]["id"]]
    assert pending[0]["replay_result"] == failed.json()["detail"]

    missing = await client.post(f"{URL}/01NOSUCHDEADLETTER00000000/replay")
    assert missing.status_code == 404
