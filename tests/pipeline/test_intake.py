"""Intake: a request is parsed, stored once (redeliveries recognised by body or
Idempotency-Key), and what cannot be parsed is refused with a dead letter."""

from __future__ import annotations

import asyncio
from typing import cast

import orjson
import pytest
import sqlalchemy as sa

from tests.conftest import MakeRuntime
from tests.ingestion import accept, dead_letters, runtime_metric, stored_event, stored_events
from tests.payloads import REAL_ALERTMANAGER, am_alert, am_body
from vigil.interfaces.runtime import Runtime
from vigil.pipeline import IntakeRejectedError, IntakeResult
from vigil.pipeline.intake import request_key
from vigil.pipeline.repository import EventQuery, list_events
from vigil.pipeline.tables import intake
from vigil.testing.clock import FakeClock


async def intake_rows(runtime: Runtime) -> list[sa.Row[tuple[str, str, str]]]:
    async with runtime.outbox.session() as session:
        query = sa.select(intake.c.id, intake.c.tenant_id, intake.c.source).order_by(intake.c.id)
        return list((await session.execute(query)).all())


def test_request_key_is_the_body_hash_or_the_idempotency_key() -> None:
    assert request_key(b"{}") == request_key(b"{}")
    assert request_key(b"{}") != request_key(b"{ }")
    assert request_key(b"{}", "k-1") == request_key(b"[1]", "k-1")
    assert request_key(b"{}", "k-1") != request_key(b"{}", "k-2")
    assert request_key(b"{}", "k-1") != request_key(b"{}")


async def test_duplicate_body_gets_the_same_intake_and_is_stored_once(
    runtime: Runtime,
) -> None:
    first = await accept(runtime, "alertmanager", REAL_ALERTMANAGER)
    again = await accept(runtime, "alertmanager", REAL_ALERTMANAGER)
    assert (first.duplicate, again.duplicate) == (False, True)
    assert again.intake_id == first.intake_id
    assert first.events == again.events == 1
    assert [row.id for row in await intake_rows(runtime)] == [first.intake_id]
    assert await runtime.processor.drain() == 1
    assert (await stored_event(runtime)).occurrences == 1
    assert runtime_metric(runtime, "vigil_webhooks_received_total") == 2
    assert runtime_metric(runtime, "vigil_webhooks_duplicate_total", source="alertmanager") == 1


async def test_concurrent_redeliveries_store_one_request(runtime: Runtime) -> None:
    results = await asyncio.gather(
        *(accept(runtime, "alertmanager", REAL_ALERTMANAGER) for _ in range(8))
    )
    assert len({r.intake_id for r in results}) == 1
    assert sum(not r.duplicate for r in results) == 1
    assert len(await intake_rows(runtime)) == 1


async def test_idempotency_key_identifies_the_delivery(runtime: Runtime, clock: FakeClock) -> None:
    first_body = am_body(am_alert({"alertname": "A"}, clock.now()))
    resent = first_body.replace(b'"alerts"', b'  "alerts"')  # re-serialised, same alerts
    assert resent != first_body
    reused = am_body(am_alert({"alertname": "B"}, clock.now()))
    first = await accept(runtime, "alertmanager", first_body, headers={"idempotency-key": "d-1"})
    retry = await accept(runtime, "alertmanager", resent, headers={"idempotency-key": "d-1"})
    other = await accept(runtime, "alertmanager", reused, headers={"idempotency-key": "d-1"})
    again = await accept(runtime, "alertmanager", first_body, headers={"idempotency-key": "d-2"})
    assert retry.duplicate
    assert retry.intake_id == first.intake_id
    # The same key on other alerts is a delivery of its own: never dropped as a duplicate.
    assert not other.duplicate
    assert not again.duplicate
    await runtime.processor.drain()
    # The second key resent the first alert: a redelivery, not a second event.
    async with runtime.db.session() as session:
        found = await list_events(session, EventQuery(tenant_id="default"))
    assert sorted((e.labels["alertname"], e.occurrences) for e in found) == [("A", 1), ("B", 1)]
    assert runtime_metric(runtime, "vigil_events_redelivered_total") == 1


async def test_same_body_for_another_tenant_or_source_is_another_request(
    runtime: Runtime,
) -> None:
    body = REAL_ALERTMANAGER
    ids = {
        (await accept(runtime, "alertmanager", body)).intake_id,
        (await accept(runtime, "alertmanager", body, tenant="acme")).intake_id,
    }
    with pytest.raises(IntakeRejectedError):
        await accept(runtime, "generic", body)  # not a generic event: refused, not merged
    assert len(ids) == 2
    assert [(r.tenant_id, r.source) for r in await intake_rows(runtime)] == [
        ("default", "alertmanager"),
        ("acme", "alertmanager"),
    ]


@pytest.mark.parametrize(
    ("body", "status", "field", "problem"),
    [
        (b"{not json", 400, "", "not valid JSON"),
        (b"[]", 422, "", "expected a JSON object"),
        (
            orjson.dumps({**orjson.loads(REAL_ALERTMANAGER), "version": "3"}),
            422,
            "version",
            "unsupported webhook version",
        ),
        (b"x" * 5000, 413, "", "limit of 4096 bytes"),
    ],
)
async def test_unparseable_body_is_refused_with_a_dead_letter(
    make_runtime: MakeRuntime, body: bytes, status: int, field: str, problem: str
) -> None:
    runtime = await make_runtime(max_body_bytes=4096)
    headers = {
        "content-type": "application/json",
        "user-agent": "Alertmanager/0.27.0",
        "authorization": "Bearer do-not-keep",
    }
    with pytest.raises(IntakeRejectedError) as raised:
        await accept(runtime, "alertmanager", body, headers=headers)
    rejected = raised.value
    assert (rejected.status, rejected.field) == (status, field)
    assert problem in rejected.problem
    (letter,) = await dead_letters(runtime)
    assert letter.id == rejected.dead_letter_id
    assert (letter.kind, letter.stage, letter.field) == ("payload", "parse", field)
    assert letter.reason == rejected.problem
    assert letter.payload == body.decode()
    assert letter.headers == {
        "content-type": "application/json",
        "user-agent": "Alertmanager/0.27.0",
    }
    assert await intake_rows(runtime) == []
    reason = "too_large" if status == 413 else "invalid_payload"
    assert runtime_metric(runtime, "vigil_webhooks_rejected_total", reason=reason) == 1
    assert runtime_metric(runtime, "vigil_dead_letters_total", stage="parse") == 1


async def test_nothing_is_processed_before_drain(runtime: Runtime) -> None:
    await accept(runtime, "alertmanager", REAL_ALERTMANAGER)
    assert await stored_events(runtime) == []
    assert await runtime.processor.backlog() == 1


async def test_two_workers_racing_on_a_redelivery(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    """Two Vigil processes on one database (workers behind a load balancer) get the same
    delivery at once: one stores it, the other answers duplicate; a request stored
    alongside in the same group commit is not failed by the race."""
    first, second = await make_runtime(), await make_runtime()
    other = am_body(am_alert({"alertname": "Unrelated"}, clock.now()))
    results = await asyncio.gather(
        accept(first, "alertmanager", REAL_ALERTMANAGER),
        accept(first, "alertmanager", other),
        accept(second, "alertmanager", REAL_ALERTMANAGER),
        return_exceptions=True,
    )
    assert [r for r in results if isinstance(r, BaseException)] == []
    original, unrelated, raced = cast(list[IntakeResult], results)
    assert raced.intake_id == original.intake_id
    assert [original.duplicate, raced.duplicate].count(True) == 1
    assert not unrelated.duplicate
    assert len(await intake_rows(first)) == 2


class _BrokenSource:
    """A translator with a bug: it raises something other than PayloadError."""

    name = "broken"

    def parse(self, payload: object, *, received_at: object, tenant_id: str) -> list[object]:
        raise TypeError("unexpected shape")


async def test_a_translator_bug_keeps_the_body_as_a_dead_letter(runtime: Runtime) -> None:
    from vigil.pipeline import IntakeService
    from vigil.sources import SourceRegistry

    sources = SourceRegistry({"broken": cast("object", _BrokenSource())})  # type: ignore[dict-item]
    service = IntakeService(
        runtime.db, sources, runtime.writer, runtime.clock, runtime.ids, runtime.metrics, 4096
    )
    with pytest.raises(IntakeRejectedError) as refused:
        await service.accept("broken", b'{"a": 1}', tenant_id="default", headers={})
    assert refused.value.status == 422
    assert "broken translator failed: TypeError: unexpected shape" in refused.value.problem
    [letter] = await dead_letters(runtime)
    assert (letter.source, letter.stage, letter.payload) == ("broken", "parse", '{"a": 1}')
    assert await intake_rows(runtime) == []


async def test_in_memory_database_stores_and_recognises_redeliveries(
    make_runtime: MakeRuntime,
) -> None:
    """In-memory SQLite has no outbox file and no writer thread: intake is written
    through the async engine, with the same outcome."""
    runtime = await make_runtime(database_url="sqlite:///:memory:", database_schema=None)
    first = await accept(runtime, "alertmanager", REAL_ALERTMANAGER)
    again = await accept(runtime, "alertmanager", REAL_ALERTMANAGER)
    assert (first.duplicate, again.duplicate, again.intake_id) == (False, True, first.intake_id)
    assert [row.id for row in await intake_rows(runtime)] == [first.intake_id]
    assert await runtime.processor.drain() == 1
    assert (await stored_event(runtime)).occurrences == 1
