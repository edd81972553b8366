"""Repository queries: receipts, silences not yet expired, event counts with filters, the
dedup lookups, and fingerprint locks."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from tests.conftest import POSTGRES_URL, postgres_schema
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
    latest_by_fingerprint,
    list_events,
    lock_fingerprints,
)
from vigil.platform.db import Database
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


async def test_latest_by_fingerprint_newest_in_window_of_the_tenant(
    runtime: Runtime, clock: FakeClock
) -> None:
    def labels(name: str) -> dict[str, str]:
        return {"alertname": name, "service": "cart", "severity": "warning"}

    early = clock.now()
    await ingest(runtime, "alertmanager", am_body(am_alert(labels("OLD"), early)))
    await ingest(runtime, "alertmanager", am_body(am_alert(labels("A"), early)))
    await ingest(runtime, "alertmanager", am_body(am_alert(labels("A"), early)), tenant="acme")
    clock.advance(timedelta(minutes=10))
    late = clock.now()
    await ingest(runtime, "alertmanager", am_body(am_alert(labels("A"), late)))
    async with runtime.db.session() as session:
        stored = await list_events(session, EventQuery(tenant_id="default"))
        by_name = {e.labels["alertname"]: e for e in stored}
        fingerprints = [by_name["A"].fingerprint, by_name["OLD"].fingerprint, "unknown"]
        found = await latest_by_fingerprint(
            session, "default", fingerprints, since=late - timedelta(minutes=1)
        )
        everything = await latest_by_fingerprint(session, "default", fingerprints, since=early)
    assert set(found) == {by_name["A"].fingerprint}
    assert found[by_name["A"].fingerprint]["id"] == by_name["A"].id
    assert found[by_name["A"].fingerprint]["occurrences"] == 2
    assert {fp: row["id"] for fp, row in everything.items()} == {
        by_name["A"].fingerprint: by_name["A"].id,
        by_name["OLD"].fingerprint: by_name["OLD"].id,
    }


async def test_known_receipts_are_the_tenants_accepted_ingest_ids(
    runtime: Runtime, clock: FakeClock
) -> None:
    body = am_body(am_alert({"alertname": "A", "service": "cart"}, clock.now()))
    await ingest(runtime, "alertmanager", body)
    async with runtime.db.session() as session:
        (event,) = await list_events(session, EventQuery(tenant_id="default"))
        asked = [event.ingest_id, "never-seen", event.ingest_id]
        mine = await known_receipts(session, "default", asked)
        theirs = await known_receipts(session, "acme", asked)
        nothing = await known_receipts(session, "default", [])
    assert (mine, theirs, nothing) == ({event.ingest_id}, set(), set())


@pytest.mark.services
async def test_fingerprint_locks_do_not_reach_into_another_schema() -> None:
    """Advisory locks are database-wide; a Vigil in another schema must not wait."""
    with postgres_schema() as first, postgres_schema() as second:
        dbs = [Database(POSTGRES_URL, schema=s) for s in (first, first, second)]
        try:
            async with dbs[0].session() as holder:
                await lock_fingerprints(holder, "default", ["fp-1"])
                outcomes = [await _try_lock(db) for db in dbs[1:]]
                await holder.rollback()
        finally:
            for db in dbs:
                await db.dispose()
    assert outcomes == ["timed out", "locked"]


async def _try_lock(db: Database) -> str:
    async with db.session() as session:
        await session.execute(sa.text("SET LOCAL lock_timeout = '300ms'"))
        try:
            await lock_fingerprints(session, "default", ["fp-1"])
        except DBAPIError as exc:
            if "lock timeout" not in str(exc):
                raise
            return "timed out"
        return "locked"
