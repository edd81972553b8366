"""Processor: drains stored intake through the pipeline; resumes what a previous run left
pending; a body that cannot be parsed at processing time becomes a dead letter."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from tests.conftest import T0, DbTarget, MakeRuntime
from tests.ingestion import accept, dead_letters, runtime_metric, stored_events
from tests.payloads import REAL_ALERTMANAGER, am_alert, am_body, generic_body, generic_event
from vigil.interfaces.runtime import Runtime
from vigil.pipeline.tables import intake, receipts
from vigil.platform.db import is_transient
from vigil.testing.clock import FakeClock


async def intake_states(runtime: Runtime) -> dict[str, str]:
    async with runtime.outbox.session() as session:
        rows = (await session.execute(sa.select(intake.c.id, intake.c.state))).all()
    return {row.id: row.state for row in rows}


async def test_drain_resumes_what_a_previous_run_left(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    first = await make_runtime()
    now = clock.now()
    bodies = [
        am_body(am_alert({"alertname": "A", "service": "cart"}, now)),
        am_body(am_alert({"alertname": "B", "service": "cart"}, now)),
        generic_body(generic_event("deploy", now, service="cart", event_type="change")),
    ]
    ids = [
        (await accept(first, source, body)).intake_id
        for source, body in zip(("alertmanager", "alertmanager", "generic"), bodies, strict=True)
    ]
    await first.stop()  # stops before processing, as a crash would

    second = await make_runtime()
    assert await second.processor.backlog() == 3
    assert await second.processor.drain() == 3
    assert await second.processor.drain() == 0
    assert await second.processor.backlog() == 0
    assert {e.title for e in await stored_events(second)} == {"A fires", "B fires", "deploy"}
    assert await intake_states(second) == dict.fromkeys(ids, "done")
    assert runtime_metric(second, "vigil_events_accepted_total") == 3
    assert runtime_metric(second, "vigil_processing_latency_seconds_count") == 3
    assert runtime_metric(second, "vigil_intake_backlog") == 0


async def test_drain_goes_through_every_batch(make_runtime: MakeRuntime, clock: FakeClock) -> None:
    runtime = await make_runtime(processor_batch_size=2)
    for n in range(5):
        labels = {"alertname": f"A{n}", "service": "cart"}
        await accept(runtime, "alertmanager", am_body(am_alert(labels, clock.now())))
    assert await runtime.processor.drain() == 5
    assert len(await stored_events(runtime)) == 5


def _row(intake_id: str, source: str, body: bytes, clock: FakeClock) -> dict[str, Any]:
    return {
        "id": intake_id,
        "tenant_id": "default",
        "source": source,
        "request_key": intake_id.lower(),
        "received_at": clock.now(),
        "body": body.decode(),
        "headers": {"user-agent": "old-vigil"},
        "state": "pending",
        "attempts": 0,
    }


async def test_body_failing_to_parse_at_processing_is_dead_lettered(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    """Rows an older version (or another source set) stored, which no longer parse."""
    runtime = await make_runtime()
    missing = orjson.loads(REAL_ALERTMANAGER)
    del missing["alerts"][0]["startsAt"]
    rows = [
        _row("01KGOOD0000000000000000000", "alertmanager", REAL_ALERTMANAGER, clock),
        _row("01KMISSING0000000000000000", "alertmanager", orjson.dumps(missing), clock),
        _row("01KNOTJSON0000000000000000", "alertmanager", b'{"version": "4", ', clock),
        _row("01KRETIRED0000000000000000", "retired", b"{}", clock),
    ]
    async with runtime.outbox.writing() as session:
        await session.execute(intake.insert(), rows)
        await session.commit()

    assert await runtime.processor.drain() == 4
    assert [e.fingerprint for e in await stored_events(runtime)] == ["24173005caa50803"]
    assert await intake_states(runtime) == {
        "01KGOOD0000000000000000000": "done",
        "01KMISSING0000000000000000": "failed",
        "01KNOTJSON0000000000000000": "failed",
        "01KRETIRED0000000000000000": "failed",
    }
    letters = {d.intake_id: d for d in await dead_letters(runtime)}
    assert set(letters) == {
        "01KMISSING0000000000000000",
        "01KNOTJSON0000000000000000",
        "01KRETIRED0000000000000000",
    }
    for letter in letters.values():
        assert (letter.kind, letter.stage) == ("payload", "parse")
        assert letter.headers == {"user-agent": "old-vigil"}
    missing_letter = letters["01KMISSING0000000000000000"]
    assert missing_letter.field == "alerts[0].startsAt"
    assert missing_letter.payload == orjson.dumps(missing).decode()
    assert letters["01KRETIRED0000000000000000"].reason == "source 'retired' is not installed"
    assert letters["01KRETIRED0000000000000000"].source == "retired"
    assert await runtime.processor.backlog() == 0
    assert runtime_metric(runtime, "vigil_dead_letters_total", stage="parse") == 3


async def test_one_bad_alert_does_not_take_its_request_down(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    """Both backends must treat an odd but valid JSON string the same way: the good alert
    of the request is stored; the odd one is stored too, or refused by a stage that names
    the field - not lost with the whole request in a database error."""
    runtime = await make_runtime()
    now = clock.now()
    body = am_body(
        am_alert({"alertname": "Good", "service": "cart"}, now),
        am_alert({"alertname": "Odd", "service": "cart", "pod": "cart-\u0000-1"}, now),
    )
    await accept(runtime, "alertmanager", body)
    await accept(runtime, "alertmanager", am_body(am_alert({"alertname": "Next"}, now)))
    assert await runtime.processor.drain() == 2

    stored = {e.labels["alertname"] for e in await stored_events(runtime)}
    letters = await dead_letters(runtime)
    assert {"Good", "Next"} <= stored
    assert stored | {orjson.loads(d.payload)["labels"]["alertname"] for d in letters} == {
        "Good",
        "Odd",
        "Next",
    }
    for letter in letters:
        assert letter.kind == "event"
        assert letter.field


async def test_processing_time_not_intake_time_is_now(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    """Received-at is the intake time, kept across the wait in the backlog."""
    runtime = await make_runtime()
    received = clock.now()
    await accept(runtime, "alertmanager", REAL_ALERTMANAGER)
    clock.advance(timedelta(minutes=3))
    await runtime.processor.drain()
    (event,) = await stored_events(runtime)
    assert event.received_at == event.first_seen == received


@pytest.mark.parametrize("already_stored", [True, False])
async def test_concurrent_repeats_of_one_alert_lose_nothing(
    runtime: Runtime, clock: FakeClock, already_stored: bool
) -> None:
    """Two units of work folding into the same alert at once (the background loop and a
    replay, or two workers on Postgres) must neither add a second row nor lose a count."""
    source = runtime.sources.get("alertmanager")
    labels = {"alertname": "HighErrorRatio", "service": "checkout"}

    def occurrence(minutes: int) -> list[Any]:
        body = orjson.loads(am_body(am_alert(labels, clock.now() - timedelta(minutes=minutes))))
        return source.parse(body, received_at=clock.now(), tenant_id="default")

    if already_stored:
        await runtime.processor.process_events(occurrence(30))
    await asyncio.gather(*(runtime.processor.process_events(occurrence(m)) for m in range(8)))
    found = await stored_events(runtime)
    assert [e.occurrences for e in found] == [8 + already_stored]


class _TickingClock(FakeClock):
    """Moves on a millisecond each time it is read, so each batch has its own `now`."""

    def now(self) -> datetime:
        return self.advance(timedelta(milliseconds=1))


async def test_a_backlog_is_claimed_in_growing_batches(make_runtime: MakeRuntime) -> None:
    """A full claim means more are waiting: the next batch doubles (up to four times the
    configured size), sharing its fixed costs among more events."""
    assert await _batch_sizes(make_runtime) == [2, 4, 6]


async def test_batches_stay_small_where_webhooks_wait_for_their_lock(
    make_runtime: MakeRuntime,
) -> None:
    """In-memory SQLite has no outbox file: intake waits for the batch's write lock."""
    memory = {"database_url": "sqlite:///:memory:", "database_schema": None}
    assert await _batch_sizes(make_runtime, **memory) == [2] * 6


async def _batch_sizes(make_runtime: MakeRuntime, **overrides: Any) -> list[int]:
    """Drain 12 requests with a configured batch of 2; the sizes of the batches taken."""
    clock = _TickingClock(T0)
    runtime = await make_runtime(processor_batch_size=2, clock=clock, **overrides)
    for n in range(12):
        labels = {"alertname": f"A{n}", "service": "cart"}
        await accept(runtime, "alertmanager", am_body(am_alert(labels, clock.now())))
    assert await runtime.processor.drain() == 12
    async with runtime.outbox.session() as session:
        query = sa.select(intake.c.processed_at, sa.func.count()).group_by(intake.c.processed_at)
        sizes = [n for _, n in sorted((await session.execute(query)).all())]
    assert len(await stored_events(runtime)) == 12
    return sizes


async def test_tables_that_grew_a_lot_are_analysed_while_draining(
    runtime: Runtime, database: DbTarget, clock: FakeClock
) -> None:
    rows = [
        {"tenant_id": "bulk", "ingest_id": f"i{n}", "event_id": f"e{n}", "intake_id": None,
         "received_at": clock.now(), "status": "firing"}
        for n in range(2500)
    ]  # fmt: skip
    async with runtime.db.writing() as session:
        if database.backend == "postgres":
            # Autovacuum must not get there first; table counters reach the statistics
            # system lazily, and this commit reports them.
            await session.execute(sa.text("ALTER TABLE receipts SET (autovacuum_enabled = off)"))
            await session.execute(sa.text("SELECT pg_stat_force_next_flush()"))
        await session.execute(receipts.insert(), rows)
        await session.commit()
    await accept(runtime, "alertmanager", am_body(am_alert({"alertname": "A"}, clock.now())))
    await runtime.processor.drain()
    async with runtime.db.session() as session:
        if database.backend == "postgres":
            query = "SELECT reltuples FROM pg_class WHERE oid = CAST('receipts' AS regclass)"
            assert (await session.execute(sa.text(query))).scalar_one() == 2501
        else:
            query = "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"
            assert (await session.execute(sa.text(query))).scalar_one() == 0


# The database refuses events titled "...refuse-me..." (as a constraint a DBA added would).
_REFUSE = {
    "sqlite": "CREATE TRIGGER refuse_marked BEFORE INSERT ON events"
    " WHEN NEW.title LIKE '%refuse-me%' BEGIN SELECT RAISE(ABORT, 'refused by policy'); END",
    "postgres": "ALTER TABLE events ADD CONSTRAINT refused_by_policy"
    " CHECK (title NOT LIKE '%refuse-me%')",
}


async def test_an_event_the_database_refuses_is_dead_lettered_once(
    make_runtime: MakeRuntime, database: DbTarget, clock: FakeClock
) -> None:
    """The batch fails as a whole, then its requests one by one, then the failing request's
    events one by one: the refused event is a dead letter (once, with the database's
    reason), and so is an event a stage refuses on the way (once, not again when the
    request is isolated); the rest of its request and the other request are stored."""
    runtime = await make_runtime()
    async with runtime.db.writing() as session:
        await session.execute(sa.text(_REFUSE[database.backend]))
        await session.commit()
    now = clock.now()
    refused = am_alert({"alertname": "refuse-me", "service": "cart"}, now)
    odd = am_alert({"alertname": "Odd", "service": "cart", "pod": "cart-\u0000-1"}, now)
    body = am_body(am_alert({"alertname": "Good"}, now), odd, refused)
    await accept(runtime, "alertmanager", body)
    await accept(runtime, "alertmanager", am_body(am_alert({"alertname": "Next"}, now)))
    assert await runtime.processor.drain() == 2

    assert {e.labels["alertname"] for e in await stored_events(runtime)} == {"Good", "Next"}
    stored_letters = await dead_letters(runtime)
    letters = {orjson.loads(d.payload)["labels"]["alertname"]: d for d in stored_letters}
    assert sorted(letters) == ["Odd", "refuse-me"]
    assert len(stored_letters) == 2  # each once
    assert letters["refuse-me"].stage == "store"
    assert "refuse" in letters["refuse-me"].reason
    assert letters["Odd"].field  # refused by a stage, which names the field
    assert set((await intake_states(runtime)).values()) == {"done"}
    assert runtime_metric(runtime, "vigil_dead_letters_total", stage="store") == 1


async def test_a_request_another_worker_is_isolating_is_left_to_it(
    make_runtime: MakeRuntime, database: DbTarget, clock: FakeClock
) -> None:
    """Workers sharing Postgres: isolating a request holds its row, so a second worker
    that gets there meanwhile skips it instead of storing its events a second time."""
    if database.backend != "postgres":
        pytest.skip("one processor per SQLite outbox is the processing lock's job (test_outbox)")
    runtime = await make_runtime()
    now = clock.now()
    result = await accept(runtime, "alertmanager", am_body(am_alert({"alertname": "A"}, now)))
    async with runtime.db.writing() as other_worker:
        query = sa.select(intake.c.id).where(intake.c.id == result.intake_id).with_for_update()
        await other_worker.execute(query)
        await runtime.processor._isolate(result.intake_id)  # the guard itself
        assert await stored_events(runtime) == []
        assert (await intake_states(runtime))[result.intake_id] == "pending"
    await runtime.processor._isolate(result.intake_id)
    assert [e.labels["alertname"] for e in await stored_events(runtime)] == ["A"]
    assert (await intake_states(runtime))[result.intake_id] == "done"


async def test_a_lock_timeout_is_worth_retrying(
    make_runtime: MakeRuntime, database: DbTarget
) -> None:
    """A lock timeout (like a deadlock or a full pool) passes; it must not become a dead
    letter. Checked against the error a real Postgres raises."""
    if database.backend != "postgres":
        pytest.skip("SQLite's busy errors are OperationalError, retryable by their type")
    runtime = await make_runtime()
    async with runtime.db.session() as holder, runtime.db.session() as waiter:
        await holder.execute(sa.text("LOCK TABLE intake IN ACCESS EXCLUSIVE MODE"))
        await waiter.execute(sa.text("SET LOCAL lock_timeout = '50ms'"))
        with pytest.raises(sa.exc.DBAPIError) as raised:
            await waiter.execute(sa.text("SELECT count(*) FROM intake"))
    assert is_transient(raised.value)
    assert not is_transient(ValueError("a bug"))
