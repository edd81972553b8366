"""Store stage: a new alert is a new row; repeats fold into it (occurrences, last seen,
firing -> resolved, flaps); an older occurrence arriving late does not change the state."""

from __future__ import annotations

from datetime import timedelta

import orjson

from tests.conftest import MakeRuntime
from tests.ingestion import ingest, runtime_metric, stored_event
from tests.payloads import (
    FIXTURES,
    REAL_ALERTMANAGER,
    REAL_FINGERPRINT,
    REAL_STARTS_AT,
    am_alert,
    am_body,
)
from vigil.testing.clock import FakeClock

LABELS = {"alertname": "HighErrorRatio", "service": "checkout", "severity": "critical"}


async def test_new_alert_is_stored_whole(make_runtime: MakeRuntime, clock: FakeClock) -> None:
    runtime = await make_runtime()
    await ingest(runtime, "alertmanager", REAL_ALERTMANAGER)
    event = await stored_event(runtime)
    assert event.tenant_id == "default"
    assert event.source == "alertmanager"
    assert event.event_type == "alert"
    assert event.fingerprint == REAL_FINGERPRINT
    assert event.ts == REAL_STARTS_AT
    assert event.first_seen == event.last_seen == event.received_at == clock.now()
    assert event.resolved_at is None
    assert (event.service, event.severity, event.status) == ("checkout", "critical", "firing")
    assert event.priority == "P1"  # critical on a service the catalogue does not know
    assert event.title == "checkout error ratio is 0.9"
    assert event.labels["instance"] == "127.0.0.1:19100"
    assert event.entity == {"service": "checkout", "instance": "127.0.0.1:19100"}
    assert event.correlation_ids == {
        "group_key": '{}:{alertname="HighErrorRatio", service="checkout"}'
    }
    assert event.raw["generatorURL"].startswith("http://127.0.0.1:19090/graph")
    assert event.ingest_id == event.last_ingest_id
    assert (event.occurrences, event.flaps, event.silenced_by) == (1, 0, None)


async def test_resolve_folds_into_the_firing_event(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    runtime = await make_runtime()
    starts = clock.now() - timedelta(minutes=2)
    await ingest(runtime, "alertmanager", am_body(am_alert(LABELS, starts)))
    firing = await stored_event(runtime)
    clock.advance(timedelta(minutes=5))
    ends = clock.now() - timedelta(seconds=30)
    await ingest(
        runtime, "alertmanager", am_body(am_alert(LABELS, starts, status="resolved", ends=ends))
    )
    resolved = await stored_event(runtime)
    assert resolved.id == firing.id
    assert resolved.status == "resolved"
    assert resolved.resolved_at == ends
    assert resolved.ts == ends
    assert resolved.occurrences == 2
    assert resolved.flaps == 0  # resolving is not flapping
    assert resolved.first_seen == firing.first_seen
    assert resolved.last_seen == clock.now()
    assert resolved.ingest_id == firing.ingest_id
    assert resolved.last_ingest_id != firing.ingest_id
    assert runtime_metric(runtime, "vigil_events_deduplicated_total") == 1


async def test_a_resolve_keeps_the_severity_it_fired_with(make_runtime: MakeRuntime) -> None:
    runtime = await make_runtime()
    for name in ("triggered", "recovered"):  # Recovered is Datadog's alert_type "success"
        body = orjson.loads((FIXTURES / "datadog" / f"{name}.json").read_bytes())
        del body["priority"]  # a monitor without a priority: severity from alert_type
        await ingest(runtime, "datadog", orjson.dumps(body))
    resolved = await stored_event(runtime)
    assert (resolved.status, resolved.severity, resolved.occurrences) == ("resolved", "error", 2)


async def test_refire_after_resolve_counts_a_flap(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    runtime = await make_runtime()
    for flap in range(3):
        starts = clock.now()
        await ingest(runtime, "alertmanager", am_body(am_alert(LABELS, starts)))
        clock.advance(timedelta(minutes=2))
        await ingest(
            runtime,
            "alertmanager",
            am_body(am_alert(LABELS, starts, status="resolved", ends=clock.now())),
        )
        clock.advance(timedelta(minutes=2))
        assert (await stored_event(runtime)).flaps == flap
    await ingest(runtime, "alertmanager", am_body(am_alert(LABELS, clock.now())))
    event = await stored_event(runtime)
    assert event.status == "firing"
    assert event.resolved_at is None
    assert event.occurrences == 7
    assert event.flaps == 3


async def test_late_older_occurrence_does_not_change_state(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    runtime = await make_runtime()
    starts = clock.now() - timedelta(minutes=10)
    ends = clock.now() - timedelta(minutes=1)
    resolved = am_alert(LABELS, starts, status="resolved", ends=ends)
    await ingest(runtime, "alertmanager", am_body(resolved))
    # The firing notification of the same alert was delayed and arrives after the resolve.
    clock.advance(timedelta(minutes=1))
    firing = am_alert(LABELS, starts, annotations={"summary": "late copy"})
    await ingest(runtime, "alertmanager", am_body(firing))
    event = await stored_event(runtime)
    assert event.status == "resolved"
    assert event.resolved_at == ends
    assert event.ts == ends
    assert event.title == "HighErrorRatio fires"
    assert event.occurrences == 2
    assert event.flaps == 0
    assert event.last_seen == clock.now()


async def test_one_body_is_applied_in_time_order(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    runtime = await make_runtime()
    first = clock.now() - timedelta(minutes=30)
    later = clock.now() - timedelta(minutes=10)
    # Newest first in the body: the resolve of the first firing, then both firings.
    body = am_body(
        am_alert(LABELS, later),
        am_alert(LABELS, first, status="resolved", ends=first + timedelta(minutes=5)),
        am_alert(LABELS, first),
    )
    await ingest(runtime, "alertmanager", body)
    event = await stored_event(runtime)
    assert event.status == "firing"
    assert event.ts == later
    assert event.occurrences == 3
    assert event.flaps == 1
    assert runtime_metric(runtime, "vigil_events_accepted_total") == 1
    assert runtime_metric(runtime, "vigil_events_deduplicated_total") == 2
