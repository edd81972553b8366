"""`POST /api/v1/webhooks/{source}`: real bodies accepted, redeliveries recognised, bad
bodies refused with a precise 4xx and a dead letter, credentials checked per source."""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import hmac
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import orjson
import pytest

from tests.conftest import MakeClient, MakeRuntime
from tests.ingestion import dead_letters, metric_value, stored_event, stored_events
from tests.payloads import FIXTURES, REAL_ALERTMANAGER, REAL_FINGERPRINT
from vigil.interfaces.api import webhooks
from vigil.interfaces.runtime import Runtime
from vigil.testing.clock import FakeClock

AM = "/api/v1/webhooks/alertmanager"
JSON = {"content-type": "application/json"}


async def test_real_alertmanager_body_is_accepted_and_stored(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    response = await client.post(AM, content=REAL_ALERTMANAGER, headers=JSON)
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "accepted"
    assert body["events"] == 1
    assert len(body["intake_id"]) == 26
    await runtime.processor.drain()
    event = await stored_event(runtime)
    assert (event.service, event.fingerprint) == ("checkout", REAL_FINGERPRINT)
    assert (event.severity, event.status) == ("critical", "firing")


async def test_redelivery_is_recognised_and_not_counted_twice(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    first = await client.post(AM, content=REAL_ALERTMANAGER, headers=JSON)
    await runtime.processor.drain()
    again = await client.post(AM, content=REAL_ALERTMANAGER, headers=JSON)
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json() == {
        "status": "duplicate",
        "intake_id": first.json()["intake_id"],
        "events": 1,
    }
    assert await runtime.processor.drain() == 0
    assert (await stored_event(runtime)).occurrences == 1
    metrics = (await client.get("/metrics")).text
    assert metric_value(metrics, "vigil_webhooks_received_total", source="alertmanager") == 2
    assert metric_value(metrics, "vigil_webhooks_duplicate_total", source="alertmanager") == 1
    assert metric_value(metrics, "vigil_events_accepted_total", source="alertmanager") == 1
    assert metric_value(metrics, "vigil_events_deduplicated_total") == 0


async def test_idempotency_key_header(runtime: Runtime, client: httpx.AsyncClient) -> None:
    headers = {**JSON, "Idempotency-Key": "delivery-42"}
    first = await client.post(AM, content=REAL_ALERTMANAGER, headers=headers)
    retry = await client.post(AM, content=REAL_ALERTMANAGER + b"\n", headers=headers)
    assert (first.status_code, retry.status_code) == (202, 200)
    assert retry.json()["intake_id"] == first.json()["intake_id"]
    # The same key on other alerts is another delivery, not a duplicate to drop.
    other = REAL_ALERTMANAGER.replace(REAL_FINGERPRINT.encode(), b"0123456789abcdef")
    assert other != REAL_ALERTMANAGER
    reused = await client.post(AM, content=other, headers=headers)
    assert reused.status_code == 202
    assert reused.json()["intake_id"] != first.json()["intake_id"]


async def test_a_large_refused_body_is_kept_whole_for_replay(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    """Under the intake limit, a body refused for one bad field is kept byte for byte."""
    payload = orjson.loads(REAL_ALERTMANAGER)
    alert = payload["alerts"][0]
    payload["alerts"] = [
        {**alert, "fingerprint": f"{i:016x}", "labels": {**alert["labels"], "n": str(i)}}
        for i in range(1500)
    ]
    payload["alerts"][-1]["startsAt"] = "not-a-time"
    body = orjson.dumps(payload)
    assert 300_000 < len(body) < runtime.settings.max_body_bytes
    response = await client.post(AM, content=body, headers=JSON)
    assert response.status_code == 422
    (letter,) = await dead_letters(runtime)
    assert letter.payload.encode() == body


async def test_bytes_that_are_not_utf8_are_kept_as_sent_and_not_replayed_as_text(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    latin1 = REAL_ALERTMANAGER.replace(b"HighErrorRatio", "HighErrorRatio-café".encode("latin-1"))
    response = await client.post(AM, content=latin1, headers=JSON)
    assert response.status_code == 400
    problem = response.json()["error"]["problem"]
    offset = latin1.index(b"\xe9")
    assert problem == f"body is not valid JSON: not UTF-8: byte 0xe9 at offset {offset}"
    (letter,) = await dead_letters(runtime)
    assert letter.headers["content-transfer-encoding"] == "base64"
    assert base64.b64decode(letter.payload) == latin1  # byte for byte
    replay = await client.post(f"/api/v1/dead-letters/{letter.id}/replay")
    assert replay.json()["ok"] is False  # never "succeeds" with mangled text
    assert "not UTF-8" in replay.json()["detail"]


async def test_a_nul_byte_is_a_400_kept_as_sent_on_every_database(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    # Valid UTF-8, never valid JSON, and text Postgres cannot store: it was a 503 forever.
    body = REAL_ALERTMANAGER.replace(b"HighErrorRatio", b"High\x00ErrorRatio", 1)
    response = await client.post(AM, content=body, headers=JSON)
    assert response.status_code == 400, response.text
    (letter,) = await dead_letters(runtime)
    assert letter.headers["content-transfer-encoding"] == "base64"
    assert base64.b64decode(letter.payload) == body


async def test_a_compressed_body_is_refused_with_415_and_kept(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    packed = gzip.compress(REAL_ALERTMANAGER)
    headers = {**JSON, "content-encoding": "gzip"}
    response = await client.post(AM, content=packed, headers=headers)
    assert response.status_code == 415
    error = response.json()["error"]
    assert error["field"] == "headers.content-encoding"
    assert error["problem"] == "Content-Encoding 'gzip' is not accepted: send the JSON as is"
    (letter,) = await dead_letters(runtime)
    assert letter.headers["content-encoding"] == "gzip"
    assert base64.b64decode(letter.payload) == packed


async def test_invalid_json_is_400_with_dead_letter(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    response = await client.post(AM, content=b'{"version": "4", "alerts": [', headers=JSON)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == 400
    assert "not valid JSON" in error["problem"]
    (letter,) = await dead_letters(runtime)
    assert error["dead_letter_id"] == letter.id
    assert (letter.source, letter.stage) == ("alertmanager", "parse")
    assert letter.payload == '{"version": "4", "alerts": ['


async def test_missing_field_is_422_naming_it(runtime: Runtime, client: httpx.AsyncClient) -> None:
    body = (FIXTURES / "alertmanager" / "invalid_missing_startsat.json").read_bytes()
    response = await client.post(AM, content=body, headers=JSON)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == "alerts[0].startsAt"
    assert error["problem"] == "Field required"
    (letter,) = await dead_letters(runtime)
    assert letter.id == error["dead_letter_id"]
    assert (letter.field, letter.reason) == ("alerts[0].startsAt", "Field required")
    assert letter.payload == body.decode()
    assert await stored_events(runtime) == []


async def test_unknown_source_is_404_with_dead_letter(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    response = await client.post("/api/v1/webhooks/alertmanger", content=REAL_ALERTMANAGER)
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["field"] == "source"
    assert "unknown source 'alertmanger'" in error["problem"]
    assert "alertmanager" in error["problem"]  # names the known ones
    (letter,) = await dead_letters(runtime)
    assert (letter.id, letter.source, letter.stage) == (
        error["dead_letter_id"],
        "alertmanger",
        "route",
    )
    metrics = (await client.get("/metrics")).text
    assert (
        metric_value(
            metrics, "vigil_webhooks_rejected_total", source="unknown", reason="unknown_source"
        )
        == 1
    )


async def test_the_detectors_own_source_is_refused_as_a_webhook(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    # Otherwise anyone with a webhook credential could post fake detector findings.
    body = b'{"events": []}'
    response = await client.post("/api/v1/webhooks/vigil.detector", content=body)
    assert response.status_code == 404
    error = response.json()["error"]
    assert "'vigil.detector' is Vigil's own" in error["problem"]
    assert "vigil.detector" not in error["problem"].split("known:")[1]
    assert [x.stage for x in await dead_letters(runtime)] == ["route"]


async def test_oversized_body_is_413(make_runtime: MakeRuntime, make_client: MakeClient) -> None:
    runtime = await make_runtime(max_body_bytes=512)
    client = await make_client(runtime)
    response = await client.post(AM, content=REAL_ALERTMANAGER, headers=JSON)
    assert response.status_code == 413
    assert "limit of 512 bytes" in response.json()["error"]["problem"]
    (letter,) = await dead_letters(runtime)
    assert letter.id == response.json()["error"]["dead_letter_id"]
    metrics = (await client.get("/metrics")).text
    assert metric_value(metrics, "vigil_webhooks_rejected_total", reason="too_large") == 1


@pytest.fixture
async def guarded(make_runtime: MakeRuntime) -> Runtime:
    return await make_runtime(
        webhooks={
            "alertmanager": {"mode": "bearer", "token": "s3cret", "tenant": "acme"},
            "pagerduty": {"mode": "hmac", "secret": "pd-signing-secret"},
        }
    )


async def test_bearer_token(guarded: Runtime, make_client: MakeClient) -> None:
    client = await make_client(guarded)
    missing = await client.post(AM, content=REAL_ALERTMANAGER)
    wrong = await client.post(
        AM, content=REAL_ALERTMANAGER, headers={"Authorization": "Bearer s3cre"}
    )
    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert missing.headers["www-authenticate"] == "Bearer"
    assert "s3cret" not in wrong.text
    assert await dead_letters(guarded, "acme") == []  # nothing from strangers is kept

    right = await client.post(
        AM, content=REAL_ALERTMANAGER, headers={"Authorization": "Bearer s3cret"}
    )
    assert right.status_code == 202
    metrics = (await client.get("/metrics")).text
    assert (
        metric_value(
            metrics, "vigil_webhooks_rejected_total", source="alertmanager", reason="unauthorized"
        )
        == 2
    )
    await guarded.processor.drain()
    # The token names the tenant the events belong to.
    assert (await stored_event(guarded, "acme")).fingerprint == REAL_FINGERPRINT
    listed = await client.get("/api/v1/events", headers={"X-Vigil-Tenant": "acme"})
    assert [e["fingerprint"] for e in listed.json()["items"]] == [REAL_FINGERPRINT]
    assert (await client.get("/api/v1/events")).json()["items"] == []


async def test_bearer_token_in_query(guarded: Runtime, make_client: MakeClient) -> None:
    client = await make_client(guarded)
    response = await client.post(f"{AM}?token=s3cret", content=REAL_ALERTMANAGER)
    assert response.status_code == 202


def pd_signature(body: bytes, secret: str = "pd-signing-secret") -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def test_pagerduty_hmac_signature(guarded: Runtime, make_client: MakeClient) -> None:
    client = await make_client(guarded)
    url = "/api/v1/webhooks/pagerduty"
    body = (FIXTURES / "pagerduty" / "incident_triggered.json").read_bytes()
    unsigned = await client.post(url, content=body)
    forged = await client.post(
        url, content=body, headers={"X-PagerDuty-Signature": pd_signature(body, "guess")}
    )
    tampered = await client.post(
        url, content=body + b" ", headers={"X-PagerDuty-Signature": pd_signature(body)}
    )
    assert [r.status_code for r in (unsigned, forged, tampered)] == [401, 401, 401]

    # While a secret rotates PagerDuty sends several signatures; one good one is enough.
    rotating = f"{pd_signature(body, 'old-secret')},{pd_signature(body)}"
    signed = await client.post(url, content=body, headers={"X-PagerDuty-Signature": rotating})
    assert signed.status_code == 202
    await guarded.processor.drain()
    event = await stored_event(guarded)
    assert (event.source, event.service) == ("pagerduty", "checkout")
    metrics = (await client.get("/metrics")).text
    assert (
        metric_value(
            metrics, "vigil_webhooks_rejected_total", source="pagerduty", reason="unauthorized"
        )
        == 3
    )


async def test_a_signed_body_over_the_limit_is_413_and_kept_an_unsigned_one_401(
    make_runtime: MakeRuntime, make_client: MakeClient
) -> None:
    runtime = await make_runtime(
        max_body_bytes=512, webhooks={"pagerduty": {"mode": "hmac", "secret": "pd-signing-secret"}}
    )
    client = await make_client(runtime)
    url = "/api/v1/webhooks/pagerduty"
    body = (FIXTURES / "pagerduty" / "incident_triggered.json").read_bytes()
    assert len(body) > 512

    async def parts() -> AsyncIterator[bytes]:  # as a large body arrives: in pieces
        for start in range(0, len(body), 100):
            yield body[start : start + 100]

    signed = {"X-PagerDuty-Signature": pd_signature(body)}
    too_large = await client.post(url, content=parts(), headers=signed)
    assert too_large.status_code == 413, too_large.text
    (letter,) = await dead_letters(runtime)
    assert letter.id == too_large.json()["error"]["dead_letter_id"]
    forged = {"X-PagerDuty-Signature": pd_signature(body, "guess")}
    assert (await client.post(url, content=parts(), headers=forged)).status_code == 401
    assert len(await dead_letters(runtime)) == 1


async def test_without_a_credential_nothing_is_read_or_kept(
    guarded: Runtime, make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await make_client(guarded)

    async def never_ending() -> AsyncIterator[bytes]:
        while True:
            yield b" "
            await asyncio.sleep(0.01)

    # A bearer source answers 401 from the headers alone: a trickled body holds nothing.
    refused = await asyncio.wait_for(client.post(AM, content=never_ending()), timeout=5)
    assert refused.status_code == 401
    # With credentials configured, a source nobody configured is not written down.
    stranger = await client.post("/api/v1/webhooks/junk", content=b"x" * 400)
    assert stranger.status_code == 404
    assert await dead_letters(guarded) == []
    # A body that does not arrive in time is a 408.
    monkeypatch.setattr(webhooks, "BODY_SECONDS", 0.2)
    slow = await client.post(AM, content=never_ending(), headers={"Authorization": "Bearer s3cret"})
    assert slow.status_code == 408
    assert slow.headers["connection"] == "close"  # what is left of its body is not a request


async def test_every_source_takes_its_fixture(
    runtime: Runtime, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    clock.set(datetime(2026, 11, 21, 13, 0, tzinfo=UTC))  # the fixtures' receive time
    fixtures = {
        "alertmanager": "group_two_alerts.json",
        "grafana": "firing.json",
        "datadog": "triggered.json",
        "pagerduty": "incident_triggered.json",
        "opsgenie": "create.json",
        "generic": "batch.json",
    }
    for source, name in fixtures.items():
        body = (FIXTURES / source / name).read_bytes()
        response = await client.post(f"/api/v1/webhooks/{source}", content=body)
        assert response.status_code == 202, (source, response.text)
    await runtime.processor.drain()
    sources = {e.source for e in await stored_events(runtime)}
    assert sources == set(fixtures)
    assert await dead_letters(runtime) == []


async def test_array_body_names_no_field(runtime: Runtime, client: httpx.AsyncClient) -> None:
    response = await client.post(AM, content=orjson.dumps([1, 2]))
    assert response.status_code == 422
    assert response.json()["error"]["field"] == ""
