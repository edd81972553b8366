"""Repository queries: receipts, silences not yet expired, event counts with filters."""

from __future__ import annotations

from datetime import timedelta

from tests.ingestion import ingest
from tests.payloads import am_alert, am_body
from vigil.interfaces.runtime import Runtime
from vigil.pipeline.repository import (
    EventQuery,
    StoredSilence,
    active_silences,
    count_events,
    insert_silence,
    known_receipts,
)
from vigil.platform.settings import Matcher
from vigil.testing.clock import FakeClock


async def test_receipts_and_counts(runtime: Runtime, clock: FakeClock) -> None:
    now = clock.now()
    body = am_body(
        am_alert({"alertname": "A", "service": "cart", "severity": "critical"}, now),
        am_alert({"alertname": "B", "service": "cart", "severity": "warning"}, now),
        am_alert({"alertname": "C", "service": "payments", "severity": "warning"}, now),
    )
    await ingest(runtime, "alertmanager", body)
    async with runtime.db.session() as session:
        stored = await count_events(session, EventQuery(tenant_id="default"))
        cart = await count_events(session, EventQuery(tenant_id="default", service="cart"))
        warnings = await count_events(
            session, EventQuery(tenant_id="default", severity="warning", service="cart")
        )
        foreign = await count_events(session, EventQuery(tenant_id="acme"))
        later = await count_events(
            session, EventQuery(tenant_id="default", since=now + timedelta(seconds=1))
        )
        ids = [f"{n:032x}" for n in range(2000)]  # more than one IN list's worth
        none_known = await known_receipts(session, "default", ids)
    assert (stored, cart, warnings, foreign, later) == (3, 2, 1, 0, 0)
    assert none_known == set()


async def test_active_silences_exclude_expired_include_future(
    runtime: Runtime, clock: FakeClock
) -> None:
    now = clock.now()

    def silence(name: str, starts: timedelta, ends: timedelta) -> StoredSilence:
        return StoredSilence(
            id=name.ljust(26, "0"),
            tenant_id="default",
            matchers=[Matcher(name="service", value=name)],
            starts_at=now + starts,
            ends_at=now + ends,
            created_by="test",
            comment=name,
        )

    async with runtime.db.writing() as session:
        await insert_silence(
            session, silence("EXPIRED", -timedelta(hours=2), -timedelta(hours=1)), now
        )
        await insert_silence(
            session, silence("ACTIVE", -timedelta(hours=1), timedelta(hours=1)), now
        )
        await insert_silence(session, silence("LATER", timedelta(hours=1), timedelta(hours=2)), now)
        await session.commit()
    async with runtime.db.session() as session:
        found = {s.comment: s for s in await active_silences(session, now)}
    assert set(found) == {"ACTIVE", "LATER"}
    assert found["ACTIVE"].matchers == [Matcher(name="service", value="ACTIVE")]
    assert found["ACTIVE"].ends_at == now + timedelta(hours=1)
