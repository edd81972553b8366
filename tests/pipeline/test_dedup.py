"""Dedup stage: a redelivered occurrence is dropped; a repeat of the same alert within the
window folds into the stored event, outside it starts a new one."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import MakeRuntime
from tests.ingestion import ingest, runtime_metric, stored_event, stored_events
from tests.payloads import am_alert, am_body
from vigil.testing.clock import FakeClock

LABELS = {"alertname": "HighLatencyP99", "service": "payments", "severity": "error"}
OTHER = {"alertname": "HighLatencyP99", "service": "cart", "severity": "error"}


async def test_redelivered_occurrence_is_dropped(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    runtime = await make_runtime()
    starts = clock.now() - timedelta(minutes=3)
    await ingest(runtime, "alertmanager", am_body(am_alert(LABELS, starts)))
    # The group is notified again with one more alert: a new body, the first alert unchanged.
    clock.advance(timedelta(minutes=1))
    await ingest(
        runtime, "alertmanager", am_body(am_alert(LABELS, starts), am_alert(OTHER, starts))
    )
    events = {e.service: e for e in await stored_events(runtime)}
    assert set(events) == {"payments", "cart"}
    assert events["payments"].occurrences == 1
    assert events["payments"].last_seen == clock.now() - timedelta(minutes=1)
    assert runtime_metric(runtime, "vigil_events_redelivered_total") == 1
    assert runtime_metric(runtime, "vigil_events_accepted_total") == 2
    assert runtime_metric(runtime, "vigil_events_deduplicated_total") == 0


async def test_same_occurrence_twice_in_one_body_counts_once(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    runtime = await make_runtime()
    alert = am_alert(LABELS, clock.now() - timedelta(minutes=3))
    await ingest(runtime, "alertmanager", am_body(alert, alert))
    event = await stored_event(runtime)
    assert event.occurrences == 1
    assert runtime_metric(runtime, "vigil_events_redelivered_total") == 1


async def test_repeat_folds_within_window_and_not_outside(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    runtime = await make_runtime(dedup_window_seconds=600)
    first_seen = clock.now()
    await ingest(runtime, "alertmanager", am_body(am_alert(LABELS, first_seen)))
    # Re-fires 5 minutes later (new startsAt): a repeat inside the 10-minute window.
    clock.advance(timedelta(minutes=5))
    await ingest(runtime, "alertmanager", am_body(am_alert(LABELS, clock.now())))
    folded = await stored_event(runtime)
    assert folded.occurrences == 2
    assert folded.first_seen == first_seen
    assert folded.last_seen == clock.now()
    # It resolves; 11 minutes after it was last seen it fires again: outside the window,
    # a new event.
    starts = clock.now()
    ends = clock.advance(timedelta(seconds=30))
    await ingest(
        runtime, "alertmanager", am_body(am_alert(LABELS, starts, status="resolved", ends=ends))
    )
    clock.advance(timedelta(minutes=11))
    await ingest(runtime, "alertmanager", am_body(am_alert(LABELS, clock.now())))
    newest, older = await stored_events(runtime)
    assert newest.fingerprint == older.fingerprint
    assert (newest.occurrences, older.occurrences) == (1, 3)
    assert (newest.status, older.status) == ("firing", "resolved")
    assert newest.first_seen == clock.now()
    assert older.id == folded.id
    assert runtime_metric(runtime, "vigil_events_deduplicated_total") == 2
    assert runtime_metric(runtime, "vigil_events_accepted_total") == 2


async def test_an_alert_still_firing_is_the_same_alert_however_long_unseen(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    runtime = await make_runtime(dedup_window_seconds=600)
    await ingest(runtime, "alertmanager", am_body(am_alert(LABELS, clock.now())))
    clock.advance(timedelta(hours=3))  # never resolved: it fires with a new start
    await ingest(runtime, "alertmanager", am_body(am_alert(LABELS, clock.now())))
    (event,) = await stored_events(runtime)
    assert (event.status, event.occurrences) == ("firing", 2)


async def test_window_follows_last_sighting(make_runtime: MakeRuntime, clock: FakeClock) -> None:
    """An alert repeating every 8 minutes stays one event under a 10-minute window."""
    runtime = await make_runtime(dedup_window_seconds=600)
    for _ in range(4):
        await ingest(runtime, "alertmanager", am_body(am_alert(LABELS, clock.now())))
        clock.advance(timedelta(minutes=8))
    assert (await stored_event(runtime)).occurrences == 4


async def test_tenants_are_deduplicated_apart(make_runtime: MakeRuntime, clock: FakeClock) -> None:
    runtime = await make_runtime()
    body = am_body(am_alert(LABELS, clock.now()))
    await ingest(runtime, "alertmanager", body, tenant="acme")
    await ingest(runtime, "alertmanager", body, tenant="globex")
    acme = await stored_event(runtime, "acme")
    globex = await stored_event(runtime, "globex")
    assert acme.id != globex.id
    assert acme.occurrences == globex.occurrences == 1
    assert await stored_events(runtime) == []
