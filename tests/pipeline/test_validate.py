"""Validate stage: events from the future, too old, without a title or with bad label names
are refused and kept as dead letters naming the field."""

from __future__ import annotations

import json
from datetime import timedelta

from tests.conftest import MakeRuntime
from tests.ingestion import dead_letters, ingest, runtime_metric, stored_events
from tests.payloads import generic_body, generic_event
from vigil.testing.clock import FakeClock


async def test_refused_events_are_dead_lettered_with_field(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    runtime = await make_runtime(max_future_skew_seconds=300, max_event_age_days=1)
    now = clock.now()
    body = generic_body(
        generic_event("fine", now - timedelta(minutes=5)),
        generic_event("within the skew", now + timedelta(minutes=4)),
        generic_event("almost too old", now - timedelta(hours=23)),
        generic_event("from the future", now + timedelta(minutes=10)),
        generic_event("ancient", now - timedelta(days=2)),
        generic_event("   ", now),
        generic_event("bad label", now, labels={"x" * 256: "v"}),
    )
    result = await ingest(runtime, "generic", body)

    assert {e.title for e in await stored_events(runtime)} == {
        "fine",
        "within the skew",
        "almost too old",
    }
    letters = await dead_letters(runtime)
    by_title = {json.loads(d.payload)["title"]: d for d in letters}
    assert set(by_title) == {"from the future", "ancient", "   ", "bad label"}
    assert {d.kind for d in letters} == {"event"}
    assert {d.stage for d in letters} == {"validate"}
    assert {d.intake_id for d in letters} == {result.intake_id}
    assert (by_title["from the future"].field, by_title["ancient"].field) == ("ts", "ts")
    assert "in the future" in by_title["from the future"].reason
    assert "older than" in by_title["ancient"].reason
    assert (by_title["   "].field, by_title["   "].reason) == ("title", "is empty")
    assert by_title["bad label"].field == "labels"
    assert runtime_metric(runtime, "vigil_dead_letters_total", stage="validate") == 4
    assert runtime_metric(runtime, "vigil_events_accepted_total", source="generic") == 3


async def test_the_processing_time_decides(make_runtime: MakeRuntime, clock: FakeClock) -> None:
    """An event 10 minutes ahead at intake is fine if processed 10 minutes later."""
    runtime = await make_runtime(max_future_skew_seconds=300)
    ahead = clock.now() + timedelta(minutes=10)
    await runtime.intake.accept(
        "generic", generic_body(generic_event("ahead", ahead)), tenant_id="default", headers={}
    )
    clock.advance(timedelta(minutes=10))
    assert await runtime.processor.drain() == 1
    assert [e.title for e in await stored_events(runtime)] == ["ahead"]
    assert await dead_letters(runtime) == []
