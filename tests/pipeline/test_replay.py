"""Replay: a dead letter is tried again after a fix; success marks it replayed, a failure
keeps it with the reason; nothing is stored twice."""

from __future__ import annotations

from datetime import datetime, timedelta

import orjson
import pytest

from tests.conftest import MakeRuntime
from tests.ingestion import accept, dead_letters, ingest, stored_event, stored_events
from tests.payloads import REAL_ALERTMANAGER, REAL_FINGERPRINT, generic_body, generic_event
from vigil.interfaces.runtime import Runtime
from vigil.pipeline import IntakeRejectedError
from vigil.pipeline.deadletters import NewDeadLetter
from vigil.testing.clock import FakeClock


async def test_payload_still_invalid_keeps_the_dead_letter(make_runtime: MakeRuntime) -> None:
    runtime = await make_runtime()
    body = orjson.loads(REAL_ALERTMANAGER)
    del body["alerts"][0]["startsAt"]
    with pytest.raises(IntakeRejectedError):
        await accept(runtime, "alertmanager", orjson.dumps(body))
    (letter,) = await dead_letters(runtime)

    result = await runtime.replayer.replay("default", letter.id)
    assert not result.ok
    assert result.detail.startswith("still failing: alerts[0].startsAt")
    (kept,) = await dead_letters(runtime, pending_only=True)
    assert kept.id == letter.id
    assert kept.reason == letter.reason  # the original reason stays
    assert kept.field == "alerts[0].startsAt"
    assert kept.replay_result == result.detail
    assert kept.replayed_at is None
    assert await stored_events(runtime) == []


async def test_payload_replays_after_the_config_is_fixed(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    strict = await make_runtime(max_body_bytes=256)
    with pytest.raises(IntakeRejectedError) as raised:
        await accept(strict, "alertmanager", REAL_ALERTMANAGER)
    assert raised.value.status == 413
    await strict.stop()

    # The operator raises the limit and restarts; the stored dead letter is replayed.
    clock.advance(timedelta(minutes=5))
    fixed = await make_runtime()
    (letter,) = await dead_letters(fixed, pending_only=True)
    result = await fixed.replayer.replay("default", letter.id)
    assert result.ok, result.detail
    assert result.detail == "parsed into 1 event(s) and processed"
    event = await stored_event(fixed)
    assert event.fingerprint == REAL_FINGERPRINT
    assert event.received_at == letter.received_at  # when the sender sent it
    assert await dead_letters(fixed, pending_only=True) == []
    (replayed,) = await dead_letters(fixed)
    assert replayed.replayed_at == clock.now()

    # Replaying again, or the sender redelivering the body, changes nothing.
    assert (await fixed.replayer.replay("default", letter.id)).detail == "already replayed"
    assert (await accept(fixed, "alertmanager", REAL_ALERTMANAGER)).duplicate
    await fixed.processor.drain()
    assert (await stored_event(fixed)).occurrences == 1


async def test_unknown_source_replay_fails_with_reason(make_runtime: MakeRuntime) -> None:
    runtime = await make_runtime()
    letter_id = await runtime.intake.write_dead_letter(
        _route_letter(runtime.clock.now(), source="alertmanger")
    )
    result = await runtime.replayer.replay("default", letter_id)
    assert (result.ok, result.detail) == (False, "source 'alertmanger' is not installed")
    (kept,) = await dead_letters(runtime, pending_only=True)
    assert kept.replay_result == result.detail


def _route_letter(now: datetime, source: str) -> NewDeadLetter:
    return NewDeadLetter(
        tenant_id="default",
        source=source,
        kind="payload",
        stage="route",
        field="source",
        reason=f"unknown source {source!r}",
        payload=REAL_ALERTMANAGER.decode(),
        received_at=now,
    )


async def test_event_replays_once_the_clock_has_caught_up(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    runtime = await make_runtime(max_future_skew_seconds=300)
    ahead = clock.now() + timedelta(hours=1)
    await ingest(runtime, "generic", generic_body(generic_event("from a fast clock", ahead)))
    (letter,) = await dead_letters(runtime)
    assert (letter.kind, letter.stage, letter.field) == ("event", "validate", "ts")

    early = await runtime.replayer.replay("default", letter.id)
    assert not early.ok
    assert early.detail.startswith("still failing at validate: ")
    assert await stored_events(runtime) == []

    clock.advance(timedelta(hours=1))
    later = await runtime.replayer.replay("default", letter.id)
    assert later.ok
    event = await stored_event(runtime)
    assert later.detail == f"stored as event {event.id}"
    assert event.title == "from a fast clock"
    assert event.ts == ahead
    (done,) = await dead_letters(runtime)
    assert (done.replayed_at, done.replay_result) == (clock.now(), later.detail)
    assert await dead_letters(runtime, pending_only=True) == []


async def test_event_stored_meanwhile_replays_as_redelivered(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    runtime = await make_runtime(max_future_skew_seconds=300)
    event = generic_event("ahead", clock.now() + timedelta(hours=1), id="occurrence-1")
    await ingest(runtime, "generic", generic_body(event))
    (letter,) = await dead_letters(runtime)
    # The sender retries later (another body, same occurrence id) and it is stored.
    clock.advance(timedelta(hours=1))
    await ingest(runtime, "generic", orjson.dumps(event))
    result = await runtime.replayer.replay("default", letter.id)
    assert (result.ok, result.detail) == (True, "already stored (redelivered)")
    assert (await stored_event(runtime)).occurrences == 1


async def test_unknown_dead_letter(runtime: Runtime) -> None:
    result = await runtime.replayer.replay("default", "01NOSUCHDEADLETTER00000000")
    assert (result.ok, result.detail) == (False, "no such dead letter")
