"""Retention: processed requests and dead letters go once their time is up; pending
requests, events and incidents stay; a dead letter outlives its request and still replays."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import orjson
import pytest
import sqlalchemy as sa

from tests.conftest import MakeRuntime
from tests.ingestion import (
    accept,
    dead_letters,
    ingest,
    runtime_metric,
    stored_event,
    stored_events,
)
from tests.payloads import REAL_ALERTMANAGER, REAL_FINGERPRINT, generic_body, generic_event
from vigil.interfaces.runtime import Runtime
from vigil.pipeline import IntakeRejectedError, retention
from vigil.pipeline.deadletters import NewDeadLetter, insert_dead_letters
from vigil.pipeline.retention import Janitor, Tidied
from vigil.pipeline.tables import intake
from vigil.platform.settings import RetentionSettings
from vigil.testing.clock import FakeClock


async def _intake_states(runtime: Runtime) -> list[str]:
    async with runtime.outbox.session() as session:
        return sorted((await session.execute(sa.select(intake.c.state))).scalars())


async def test_processed_requests_and_dead_letters_go_after_their_time(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    runtime = await make_runtime()
    await ingest(runtime, "generic", generic_body(generic_event("disk full", clock.now())))
    await accept(runtime, "generic", generic_body(generic_event("not yet", clock.now())))
    body = orjson.loads(REAL_ALERTMANAGER)
    del body["alerts"][0]["startsAt"]
    with pytest.raises(IntakeRejectedError):
        await accept(runtime, "alertmanager", orjson.dumps(body))
    assert await _intake_states(runtime) == ["done", "pending"]

    clock.advance(timedelta(days=6, hours=23))
    assert await runtime.processor.tidy() == Tidied()
    clock.advance(timedelta(hours=2))
    assert await runtime.processor.tidy() == Tidied(intake=1)
    assert await _intake_states(runtime) == ["pending"]  # never dropped unprocessed
    assert len(await dead_letters(runtime)) == 1
    clock.advance(timedelta(days=23))
    assert await runtime.processor.tidy() == Tidied(dead_letters=1)
    assert await dead_letters(runtime) == []
    assert (await stored_event(runtime)).title == "disk full"  # history stays


async def test_retention_can_be_switched_off(make_runtime: MakeRuntime, clock: FakeClock) -> None:
    runtime = await make_runtime(retention={"intake_days": None, "dead_letter_days": None})
    await ingest(runtime, "generic", generic_body(generic_event("disk full", clock.now())))
    clock.advance(timedelta(days=400))
    assert await runtime.processor.tidy() == Tidied()
    assert await _intake_states(runtime) == ["done"]


async def test_a_dead_letter_whose_request_is_gone_replays_from_its_copy(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    """A request processed and dead-lettered (a source missing then, say) and deleted by
    retention since: the replay stores it again from the letter's copy and processes it.
    (Before, the replay set a missing row pending, processed nothing and said it had.)"""
    runtime = await make_runtime()
    letter = NewDeadLetter(
        tenant_id="default", source="alertmanager", kind="payload", stage="parse", field="",
        reason="source 'alertmanager' is not installed", payload=REAL_ALERTMANAGER.decode(),
        received_at=clock.now(), headers={}, intake_id=runtime.ids.new(),
    )  # fmt: skip
    letter_id = runtime.ids.new()
    async with runtime.db.writing() as session:
        await insert_dead_letters(session, [letter.row(letter_id, clock.now())])
        await session.commit()
    result = await runtime.replayer.replay("default", letter_id)
    assert (result.ok, result.detail) == (True, "parsed into 1 event(s) and processed")
    assert [e.fingerprint for e in await stored_events(runtime)] == [REAL_FINGERPRINT]
    assert await _intake_states(runtime) == ["done"]


async def test_rounds_are_counted_and_cover_intake_an_older_version_left_in_the_main_file(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    runtime = await make_runtime()
    await ingest(runtime, "generic", generic_body(generic_event("disk full", clock.now())))
    legacy = runtime.outbox is not runtime.db  # embedded SQLite: intake has its own file
    if legacy:
        async with runtime.db.writing() as session:
            await session.execute(intake.insert().values(
                id=runtime.ids.new(), tenant_id="default", source="generic", request_key="k",
                received_at=clock.now(), body="{}", headers={}, state="done", attempts=1,
            ))  # fmt: skip
            await session.commit()
    clock.advance(timedelta(days=8))
    assert await runtime.processor.tidy() == Tidied(intake=2 if legacy else 1)
    assert runtime_metric(runtime, "vigil_retention_deleted_total", table="intake") == (
        2 if legacy else 1
    )


async def test_a_request_set_pending_while_a_round_waits_is_not_deleted(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    """A replay sets an old processed request pending again while a round is about to
    delete it: the round, waiting on the row, must see it is pending now."""
    runtime = await make_runtime()
    await ingest(runtime, "generic", generic_body(generic_event("disk full", clock.now())))
    clock.advance(timedelta(days=8))
    async with runtime.outbox.writing() as session:
        await session.execute(intake.update().values(state="pending"))
        purging = asyncio.create_task(runtime.processor.tidy())
        await asyncio.sleep(0.5)  # the round is waiting for this transaction's lock
        await session.commit()
    assert await purging == Tidied()
    assert await _intake_states(runtime) == ["pending"]


async def test_a_backlog_does_not_hold_retention_off(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    runtime = await make_runtime(processor_batch_size=1)
    await ingest(runtime, "generic", generic_body(generic_event("old", clock.now())))
    clock.advance(timedelta(days=8))
    for i in range(3):
        await accept(runtime, "generic", generic_body(generic_event(f"new {i}", clock.now())))
    await runtime.processor.drain(asyncio.Event())  # as the run loop drains
    assert await _intake_states(runtime) == ["done", "done", "done"]


async def test_a_large_purge_comes_in_short_rounds_each_due_at_once(
    make_runtime: MakeRuntime, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "BATCH", 2)
    monkeypatch.setattr(retention, "ROUND_BATCHES", 1)
    runtime = await make_runtime()
    for i in range(5):
        await ingest(runtime, "generic", generic_body(generic_event(f"e{i}", clock.now())))
    clock.advance(timedelta(days=8))
    janitor = Janitor(runtime.db, runtime.outbox, RetentionSettings())
    rounds = [await janitor.tidy(clock.now()) for _ in range(4)]
    assert [r.intake for r in rounds] == [2, 2, 1, 0]  # the last one was not due
    assert await _intake_states(runtime) == []
