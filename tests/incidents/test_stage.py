"""The correlate stage, end to end through intake and processor on both databases."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from tests.conftest import T0, MakeRuntime
from tests.incidents.conftest import detail, fire, incidents, only_incident
from tests.ingestion import ingest, stored_events
from tests.payloads import generic_body, generic_event
from vigil.interfaces.runtime import Runtime
from vigil.pipeline import repository
from vigil.pipeline.tables import events


async def test_a_cascade_up_the_call_graph_is_one_incident(runtime: Runtime) -> None:
    await fire(runtime, "PostgresSlowQueries", "postgres-main", T0, instance="pg-0")
    await fire(runtime, "HighLatencyP99", "payments", T0 + timedelta(minutes=1))
    await fire(runtime, "HighLatencyP99", "payments", T0 + timedelta(minutes=2), instance="p-2")
    await fire(runtime, "HighErrorRatio", "checkout", T0 + timedelta(minutes=3))

    incident = await only_incident(runtime)

    assert incident.services == ["checkout", "payments", "postgres-main"]
    assert incident.alert_count == 4
    assert [m.reason_kind for m in incident.members] == [
        "opened", "dependency", "group_key", "dependency",
    ]  # fmt: skip
    assert incident.members[1].reason == "payments calls postgres-main"
    assert incident.members[3].reason == "checkout calls payments"
    # Critical on tier-1 services, spread over three: the most urgent priority.
    assert (incident.severity, incident.priority) == ("critical", "P0")
    assert incident.title == "PostgresSlowQueries fires (postgres-main)"
    kinds = [entry.kind for entry in incident.timeline]
    assert kinds == ["detected", "alert_attached", "alert_attached", "alert_attached"]


async def test_unrelated_services_and_late_alerts_open_their_own(runtime: Runtime) -> None:
    await fire(runtime, "HighLatencyP99", "payments", T0)
    await fire(runtime, "IndexLag", "search", T0 + timedelta(minutes=1))
    # The same service, but long after the payments incident went quiet.
    await fire(runtime, "DiskFilling", "payments", T0 + timedelta(hours=2))

    found = await incidents(runtime)

    assert sorted(i.services[0] for i in found) == ["payments", "payments", "search"]
    assert all(i.alert_count == 1 for i in found)


async def test_same_service_and_same_family_join(runtime: Runtime) -> None:
    await fire(runtime, "PodRestarts", "cart", T0)
    await fire(runtime, "HighLatencyP99", "cart", T0 + timedelta(minutes=3), instance="cart-1")
    await fire(runtime, "HighLatencyP99", "cart", T0 + timedelta(minutes=3.5), instance="cart-2",
               group_key="other-group")  # fmt: skip

    incident = await only_incident(runtime)

    assert [m.reason_kind for m in incident.members] == ["opened", "service", "family"]


async def test_auto_resolve_then_flap_reopens_then_late_refire_is_new(runtime: Runtime) -> None:
    await fire(runtime, "HighLatencyP99", "payments", T0)
    await fire(runtime, "HighErrorRatio", "checkout", T0 + timedelta(minutes=1))
    await fire(runtime, "HighLatencyP99", "payments", T0 + timedelta(minutes=4), status="resolved")
    assert (await only_incident(runtime)).state == "detected"

    await fire(runtime, "HighErrorRatio", "checkout", T0 + timedelta(minutes=5), status="resolved")
    resolved = await only_incident(runtime)
    assert resolved.state == "resolved"
    # Its end (endsAt, a second after it was sent) is not after it was processed.
    assert resolved.mttr_seconds == 5 * 60

    # Re-fires 5 minutes later, inside the 15-minute flap window: the same incident.
    await fire(runtime, "HighErrorRatio", "checkout", T0 + timedelta(minutes=10))
    reopened = await only_incident(runtime)
    assert (reopened.state, reopened.reopened, reopened.resolved_at) == ("detected", 1, None)
    assert reopened.timeline[-2].summary.startswith("resolved → detected (reopen)")

    await fire(runtime, "HighErrorRatio", "checkout", T0 + timedelta(minutes=12), status="resolved")
    await fire(runtime, "HighLatencyP99", "payments", T0 + timedelta(minutes=13), status="resolved")
    assert (await only_incident(runtime)).state == "resolved"

    # An hour later: a new failure, a new incident.
    await fire(runtime, "HighErrorRatio", "checkout", T0 + timedelta(minutes=75))
    found = await incidents(runtime)
    assert [i.state for i in found] == ["detected", "resolved"]
    newest = await detail(runtime, found[0].id)
    assert newest.members[0].reason_kind == "opened"


async def test_a_change_is_noted_on_the_open_incidents_of_its_service(runtime: Runtime) -> None:
    await fire(runtime, "IndexLag", "search", T0)
    await fire(runtime, "HighLatencyP99", "payments", T0)
    # Hours later, no alert of the batch near them: the deploy still lands on search's.
    later = T0 + timedelta(hours=3)
    runtime.clock.set(later)  # type: ignore[attr-defined]
    deploy = generic_event("deploy search v2", later, service="search", event_type="change")
    await ingest(runtime, "generic", generic_body(deploy))

    found = {i.services[0]: await detail(runtime, i.id) for i in await incidents(runtime)}

    assert [e.summary for e in found["search"].timeline if e.kind == "change"] == [
        "change: deploy search v2"
    ]
    assert [e.kind for e in found["payments"].timeline] == ["detected"]


async def test_silenced_and_resolved_only_alerts_open_nothing(
    make_runtime: MakeRuntime,
) -> None:
    staging = {"id": "staging", "matchers": [{"name": "env", "value": "staging"}],
               "ends_at": T0 + timedelta(days=1)}  # fmt: skip
    runtime = await make_runtime(silences=[staging])
    await fire(runtime, "HighLatencyP99", "payments", T0, env="staging")
    await fire(runtime, "HighLatencyP99", "cart", T0, status="resolved")

    assert await incidents(runtime) == []


async def test_an_alert_resolving_under_a_silence_still_resolves_its_incident(
    make_runtime: MakeRuntime,
) -> None:
    quiet = {
        "id": "quiet",
        "matchers": [{"name": "service", "value": "payments"}],
        "starts_at": T0 + timedelta(minutes=1),
        "ends_at": T0 + timedelta(hours=1),
    }
    runtime = await make_runtime(silences=[quiet])
    await fire(runtime, "HighLatencyP99", "payments", T0)
    assert (await only_incident(runtime)).state == "detected"

    # The on-call silences it; the alert then resolves: muted, but the incident is over.
    await fire(runtime, "HighLatencyP99", "payments", T0 + timedelta(minutes=5), status="resolved")
    resolved = await only_incident(runtime)
    assert resolved.state == "resolved"
    assert resolved.mttr_seconds is not None
    assert [m.status for m in resolved.members] == ["resolved"]

    # A muted re-fire reopens nothing, and opens nothing either.
    await fire(runtime, "HighLatencyP99", "payments", T0 + timedelta(minutes=8))
    assert [i.state for i in await incidents(runtime)] == ["resolved"]


async def test_an_alert_still_firing_when_its_silence_ends_pages_then(
    make_runtime: MakeRuntime,
) -> None:
    def silence(name: str, service: str, minutes: int) -> dict[str, object]:
        return {"id": name, "matchers": [{"name": "service", "value": service}],
                "ends_at": T0 + timedelta(minutes=minutes)}  # fmt: skip

    runtime = await make_runtime(
        silences=[silence("deploy", "payments", 10), silence("long", "search", 600)]
    )
    await fire(runtime, "HighLatencyP99", "payments", T0 + timedelta(minutes=1))
    await fire(runtime, "DiskFull", "cart", T0 + timedelta(minutes=1), env="x")
    await fire(runtime, "IndexLag", "search", T0 + timedelta(minutes=1))
    await fire(runtime, "Flaky", "payments", T0 + timedelta(minutes=2))
    await fire(runtime, "Flaky", "payments", T0 + timedelta(minutes=3), status="resolved")
    assert [i.services for i in await incidents(runtime)] == [["cart"]]
    runtime.clock.set(T0 + timedelta(minutes=5))  # type: ignore[attr-defined]
    assert await runtime.processor.lift_mutes() == 0  # still silenced

    runtime.clock.set(T0 + timedelta(minutes=11))  # type: ignore[attr-defined]
    assert await runtime.processor.lift_mutes() == 1
    assert await runtime.processor.lift_mutes() == 0  # once
    found = {i.services[0]: i for i in await incidents(runtime)}
    assert set(found) == {"cart", "payments"}  # not the resolved one, not search's
    paged = await detail(runtime, found["payments"].id)
    assert paged.detected_at == T0 + timedelta(minutes=11)  # it pages now
    assert [m.title for m in paged.members] == ["HighLatencyP99 fires"]


async def test_an_alert_firing_for_longer_than_the_dedup_window_still_resolves(
    make_runtime: MakeRuntime,
) -> None:
    runtime = await make_runtime(dedup_window_seconds=600)
    await fire(runtime, "DiskFull", "postgres-main", T0)
    await fire(runtime, "DiskFull", "postgres-main", T0)  # a repeat: a redelivery
    later = T0 + timedelta(hours=7)
    await fire(runtime, "DiskFull", "postgres-main", later, status="resolved")
    (event,) = await stored_events(runtime)
    assert (event.status, event.occurrences) == ("resolved", 2)
    incident = await only_incident(runtime)
    assert incident.state == "resolved"
    # A new firing after the window is a new alert again.
    await fire(runtime, "DiskFull", "postgres-main", later + timedelta(hours=1))
    assert len(await stored_events(runtime)) == 2


async def test_an_alias_is_its_service_in_the_call_graph_too(
    make_runtime: MakeRuntime, tmp_path: Path
) -> None:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        "services:\n"
        "  - {name: checkout, dependencies: [pg-main]}\n"
        "  - {name: postgres-main, aliases: [pg-main]}\n"
    )
    runtime = await make_runtime(catalog_path=catalog)
    await fire(runtime, "PostgresSlowQueries", "pg-main", T0)
    await fire(runtime, "HighErrorRatio", "checkout", T0 + timedelta(minutes=1))
    incident = await only_incident(runtime)
    assert sorted(incident.services) == ["checkout", "postgres-main"]


async def test_lifting_skips_stale_rows_and_rows_changed_since_read(
    make_runtime: MakeRuntime,
) -> None:
    quiet = {"id": "q", "matchers": [{"name": "service", "value": "payments"}],
             "ends_at": T0 + timedelta(minutes=10)}  # fmt: skip
    runtime = await make_runtime(silences=[quiet])
    await fire(runtime, "HighLatencyP99", "payments", T0 + timedelta(minutes=1))
    await fire(runtime, "DiskFull", "payments", T0 + timedelta(minutes=1))
    (disk, latency) = sorted(await stored_events(runtime), key=lambda e: e.title)
    async with runtime.db.writing() as session:
        # An older version left a newer row beside a still-firing one: the old one is stale.
        row = (await session.execute(sa.select(events).where(events.c.id == disk.id))).one()
        newer = {**row._asdict(), "id": "Z" * 26, "status": "resolved"}
        await session.execute(events.insert().values(newer))
        await session.commit()
    later = T0 + timedelta(minutes=11)
    async with runtime.db.writing() as session:
        (read,) = await repository.muted_firing(session, [], T0, 10)
        assert read["id"] == latency.id
        await session.execute(
            events.update().where(events.c.id == latency.id).values(status="resolved")
        )  # as a worker storing its resolve meanwhile
        assert await repository.remark_muted(session, [(read, None)]) == set()
        await session.rollback()
    runtime.clock.set(later)  # type: ignore[attr-defined]
    assert await runtime.processor.lift_mutes() == 1  # the live one only
    assert [i.title for i in await incidents(runtime)] == ["HighLatencyP99 fires (payments)"]


async def test_a_change_that_comes_again_days_later_is_noted_again(runtime: Runtime) -> None:
    for day in range(2):
        at = T0 + timedelta(days=day)
        await fire(runtime, "HighErrorRatio", "checkout", at)
        deploy = generic_event("deploy checkout v7", at + timedelta(minutes=1),
                               service="checkout", event_type="change")  # fmt: skip
        await ingest(runtime, "generic", generic_body(deploy))
        await fire(
            runtime, "HighErrorRatio", "checkout", at + timedelta(hours=1), status="resolved"
        )
    for incident in await incidents(runtime):
        shown = await detail(runtime, incident.id)
        assert [e.summary for e in shown.timeline if e.kind == "change"] == [
            "change: deploy checkout v7"
        ]


async def test_an_alert_that_started_before_its_incident_resolved_but_came_late_reopens_it(
    runtime: Runtime,
) -> None:
    await fire(runtime, "HighLatencyP99", "payments", T0, instance="a:1")
    ended = T0 + timedelta(minutes=9)
    await fire(runtime, "HighLatencyP99", "payments", ended, status="resolved", instance="a:1")
    assert (await only_incident(runtime)).state == "resolved"

    # Its sibling started at 8m30s, while the incident was open; Alertmanager sends it with
    # the group's next notification, after the resolve.
    runtime.clock.set(ended + timedelta(minutes=4))  # type: ignore[attr-defined]
    await fire(runtime, "HighLatencyP99", "payments", ended - timedelta(seconds=30), instance="b:1")
    incident = await only_incident(runtime)
    assert (incident.state, incident.reopened) == ("detected", 1)
    assert any("had started before it resolved" in e.summary for e in incident.timeline)
    assert [m.reason_kind for m in incident.members] == ["opened", "group_key"]

    # One that started after the end, beyond the window of the first alert, is its own.
    later = ended + timedelta(minutes=30)
    await fire(runtime, "HighLatencyP99", "payments", later, status="resolved", instance="b:1")
    await fire(runtime, "HighLatencyP99", "payments", later + timedelta(minutes=1), instance="c:1")
    assert len(await incidents(runtime)) == 2


async def test_a_late_alert_reopens_only_what_its_family_still_fired_in_and_only_lately(
    runtime: Runtime,
) -> None:
    # payments' family fires 5 minutes; checkout keeps the incident open for 3 hours.
    await fire(runtime, "HighLatencyP99", "payments", T0, instance="a:1")
    await fire(runtime, "HighErrorRatio", "checkout", T0 + timedelta(minutes=1))
    await fire(runtime, "HighLatencyP99", "payments", T0 + timedelta(minutes=5),
               status="resolved", instance="a:1")  # fmt: skip
    await fire(runtime, "HighErrorRatio", "checkout", T0 + timedelta(hours=3), status="resolved")
    (first,) = await incidents(runtime)
    # A sibling that started two hours in, long after its family had stopped, arrives late:
    # it is its own failure, as it would have been on time.
    runtime.clock.set(T0 + timedelta(hours=3, minutes=4))  # type: ignore[attr-defined]
    await fire(runtime, "HighLatencyP99", "payments", T0 + timedelta(hours=2), instance="b:1")
    assert len(await incidents(runtime)) == 2
    # One that started while the family fired, replayed ten days later, reopens nothing
    # and leaves the old figures alone.
    runtime.clock.set(T0 + timedelta(days=10))  # type: ignore[attr-defined]
    await fire(runtime, "HighLatencyP99", "payments", T0 + timedelta(minutes=2), instance="c:1")
    again = await detail(runtime, first.id)
    assert (again.state, again.reopened, again.mttr_seconds) == (
        "resolved", 0, first.mttr_seconds,
    )  # fmt: skip
