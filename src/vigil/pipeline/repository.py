"""Queries over stored events, receipts and silences. Repositories never commit."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from vigil.pipeline.tables import MUTED_FIRING, events, receipts, silences
from vigil.platform.settings import Matcher

log = logging.getLogger(__name__)

__all__ = [
    "EventQuery",
    "StoredEvent",
    "StoredSilence",
    "active_silences",
    "count_events",
    "expire_silence",
    "get_event",
    "insert_events",
    "insert_receipts",
    "insert_silence",
    "known_receipts",
    "latest_by_fingerprint",
    "latest_firing",
    "list_events",
    "lock_fingerprints",
    "update_events",
]

# SQLite allows 32766 bound parameters; stay far below for IN lists.
_CHUNK = 900


def _is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _one_of(
    session: AsyncSession, column: sa.ColumnElement[str], values: Sequence[str]
) -> sa.ColumnElement[bool]:
    """`column IN values`. On Postgres as `= ANY(array)`: one prepared statement whatever
    the number of values (an IN list makes asyncpg prepare a new one per length)."""
    if _is_postgres(session):
        array = sa.bindparam(None, list(values), type_=postgresql.ARRAY(sa.String))
        return column == sa.any_(array)
    return column.in_(values)


def _each_of(values: Sequence[str]) -> sa.TableValuedAlias:
    """`unnest(array) AS k(key)`: the values as rows, to probe an index once per value."""
    array = sa.bindparam(None, list(values), type_=postgresql.ARRAY(sa.String))
    return sa.func.unnest(array).table_valued("key").render_derived(name="k")


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


class StoredEvent(BaseModel):
    """An event as stored after deduplication, enrichment, classification and silencing."""

    model_config = ConfigDict(frozen=True)

    id: str
    tenant_id: str
    source: str
    event_type: str
    fingerprint: str
    ts: datetime
    received_at: datetime
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    service: str | None
    severity: str
    status: str
    priority: str
    title: str
    description: str
    entity: dict[str, Any]
    labels: dict[str, str]
    correlation_ids: dict[str, Any]
    enrichment: dict[str, Any]
    raw: dict[str, Any]
    ingest_id: str
    last_ingest_id: str
    schema_version: int
    occurrences: int
    flaps: int
    silenced_by: str | None


@dataclass(frozen=True, slots=True)
class EventQuery:
    tenant_id: str
    service: str | None = None
    severity: str | None = None
    status: str | None = None
    since: datetime | None = None
    before_id: str | None = None
    limit: int = 100


@dataclass(frozen=True, slots=True)
class StoredSilence:
    id: str
    tenant_id: str
    matchers: list[Matcher]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str


async def known_receipts(session: AsyncSession, tenant_id: str, ids: Sequence[str]) -> set[str]:
    """The subset of `ids` already accepted for this tenant."""
    found: set[str] = set()
    if ids and _is_postgres(session):
        # One primary-key probe per id (a LATERAL ... LIMIT 1 join), whatever the planner
        # believes: `= ANY` scans every receipt of the tenant on a table without statistics
        # (a fresh one) and even on an analysed one once the list is long.
        keys = _each_of(ids)
        probe = (
            sa.select(receipts.c.ingest_id)
            .where(receipts.c.tenant_id == tenant_id, receipts.c.ingest_id == keys.c.key)
            .limit(1)
            .lateral("r")
        )
        query = sa.select(probe.c.ingest_id).select_from(keys).join(probe, sa.true())
        found.update((await session.execute(query)).scalars())
        return found
    for chunk in _chunks(ids):
        query = sa.select(receipts.c.ingest_id).where(
            receipts.c.tenant_id == tenant_id, _one_of(session, receipts.c.ingest_id, chunk)
        )
        found.update((await session.execute(query)).scalars())
    return found


async def lock_fingerprints(
    session: AsyncSession, tenant_id: str, fingerprints: Sequence[str]
) -> None:
    """Serialise work on these fingerprints until the transaction ends (Postgres advisory
    locks, taken in one sorted order so two workers cannot deadlock). The keys name the
    schema: advisory locks are database-wide, and Vigils in other schemas of the same
    database must not wait for each other. On SQLite the IMMEDIATE write transaction
    already excludes every other writer."""
    if not fingerprints or not _is_postgres(session):
        return
    keys = sorted({f"{tenant_id}/{fp}" for fp in fingerprints})
    await session.execute(
        sa.text(
            "SELECT pg_advisory_xact_lock(h) FROM (SELECT "
            "hashtextextended(current_schema() || '/' || k, 0) AS h "
            "FROM unnest(CAST(:keys AS text[])) AS k ORDER BY h) AS ordered"
        ),
        {"keys": keys},
    )


async def latest_by_fingerprint(
    session: AsyncSession, tenant_id: str, fingerprints: Sequence[str], since: datetime
) -> dict[str, Mapping[str, Any]]:
    """The newest stored event per fingerprint seen at or after `since`."""
    if fingerprints and _is_postgres(session):
        return await _latest_postgres(session, tenant_id, fingerprints, since)
    latest: dict[str, Mapping[str, Any]] = {}
    for chunk in _chunks(fingerprints):
        query = sa.select(events).where(
            events.c.tenant_id == tenant_id,
            events.c.fingerprint.in_(chunk),
            events.c.last_seen >= since,
        )
        for row in (await session.execute(query)).mappings():
            best = latest.get(row["fingerprint"])
            if best is None or row["last_seen"] > best["last_seen"]:
                latest[row["fingerprint"]] = dict(row)
    return latest


ALERT_TYPES = ("alert", "anomaly", "incident")  # events that fire and resolve


def _superseded() -> sa.Exists:
    """An event row with a newer row of the same alert (tenant and fingerprint)."""
    newer = events.alias("newer")
    return sa.exists().where(
        newer.c.tenant_id == events.c.tenant_id,
        newer.c.fingerprint == events.c.fingerprint,
        newer.c.id > events.c.id,
    )


async def latest_firing(
    session: AsyncSession, tenant_id: str, fingerprints: Sequence[str]
) -> dict[str, Mapping[str, Any]]:
    """Per fingerprint, the alert's newest stored row when it still fires, however old.
    Only alerts (not changes or notices, which never resolve), and only the newest row:
    an older one still marked firing beside a newer one is not the live alert."""
    found: dict[str, Mapping[str, Any]] = {}
    for chunk in _chunks(fingerprints):
        query = sa.select(events).where(
            events.c.tenant_id == tenant_id,
            events.c.fingerprint.in_(chunk),
            events.c.status == "firing",
            events.c.event_type.in_(ALERT_TYPES),
            ~_superseded(),
        )
        for row in (await session.execute(query)).mappings():
            found[row["fingerprint"]] = dict(row)
    return found


async def _latest_postgres(
    session: AsyncSession, tenant_id: str, fingerprints: Sequence[str], since: datetime
) -> dict[str, Mapping[str, Any]]:
    """One backward probe of (tenant, fingerprint, last_seen) per fingerprint: without
    statistics the planner would read every event of the tenant by `last_seen` instead."""
    keys = _each_of(fingerprints)
    newest = (
        sa.select(events)
        .where(
            events.c.tenant_id == tenant_id,
            events.c.fingerprint == keys.c.key,
            events.c.last_seen >= since,
        )
        .order_by(events.c.last_seen.desc())
        .limit(1)
        .lateral("e")
    )
    query = sa.select(newest).select_from(keys).join(newest, sa.true())
    return {row["fingerprint"]: dict(row) for row in (await session.execute(query)).mappings()}


async def insert_events(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(events.insert(), rows)


async def update_events(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Fold repeats into stored events; each row carries `b_id` and the new values."""
    if not rows:
        return
    values: dict[str, Any] = {key: sa.bindparam(key) for key in rows[0] if key != "b_id"}
    stmt = events.update().where(events.c.id == sa.bindparam("b_id")).values(values)
    await session.execute(stmt, rows)


async def insert_receipts(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(receipts.insert(), rows)


def _event_filters(q: EventQuery) -> list[sa.ColumnElement[bool]]:
    where = [events.c.tenant_id == q.tenant_id]
    if q.service:
        where.append(events.c.service == q.service)
    if q.severity:
        where.append(events.c.severity == q.severity)
    if q.status:
        where.append(events.c.status == q.status)
    if q.since:
        where.append(events.c.last_seen >= q.since)
    return where


async def list_events(session: AsyncSession, q: EventQuery) -> list[StoredEvent]:
    """Newest first; page with `before_id` = the last id of the previous page."""
    where = _event_filters(q)
    if q.before_id:
        where.append(events.c.id < q.before_id)
    query = sa.select(events).where(*where).order_by(events.c.id.desc()).limit(q.limit)
    rows = (await session.execute(query)).mappings()
    return [StoredEvent.model_validate(dict(row)) for row in rows]


async def count_events(session: AsyncSession, q: EventQuery) -> int:
    query = sa.select(sa.func.count()).select_from(events).where(*_event_filters(q))
    return int((await session.execute(query)).scalar_one())


async def get_event(session: AsyncSession, tenant_id: str, event_id: str) -> StoredEvent | None:
    query = sa.select(events).where(events.c.tenant_id == tenant_id, events.c.id == event_id)
    row = (await session.execute(query)).mappings().first()
    return StoredEvent.model_validate(dict(row)) if row else None


async def active_silences(session: AsyncSession, now: datetime) -> list[StoredSilence]:
    """Silences not expired by `now` (a silence starting later is returned too)."""
    query = sa.select(silences).where(silences.c.ends_at > now)
    found = []
    for row in (await session.execute(query)).mappings():
        try:
            matchers = [Matcher.model_validate(m) for m in row["matchers"]]
        except ValidationError as exc:  # stored before matchers were checked
            log.warning("silence %s ignored: %s", row["id"], exc.errors()[0]["msg"])
            continue
        found.append(
            StoredSilence(
                id=row["id"],
                tenant_id=row["tenant_id"],
                matchers=matchers,
                starts_at=row["starts_at"],
                ends_at=row["ends_at"],
                created_by=row["created_by"],
                comment=row["comment"],
            )
        )
    return found


async def insert_silence(session: AsyncSession, silence: StoredSilence, now: datetime) -> None:
    await session.execute(
        silences.insert().values(
            id=silence.id,
            tenant_id=silence.tenant_id,
            matchers=[m.model_dump() for m in silence.matchers],
            starts_at=silence.starts_at,
            ends_at=silence.ends_at,
            created_by=silence.created_by,
            comment=silence.comment,
            created_at=now,
        )
    )


async def expire_silence(
    session: AsyncSession, tenant_id: str, silence_id: str, now: datetime
) -> StoredSilence | None:
    """End a silence now (kept, with its history); None when the tenant has no such
    silence still running. A silence that has not started yet ends before it starts."""
    query = sa.select(silences).where(
        silences.c.id == silence_id, silences.c.tenant_id == tenant_id, silences.c.ends_at > now
    )
    row = (await session.execute(query)).mappings().first()
    if row is None:
        return None
    starts_at = min(row["starts_at"], now)
    await session.execute(
        silences.update()
        .where(silences.c.id == silence_id)
        .values(starts_at=starts_at, ends_at=now)
    )
    matchers = [Matcher.model_construct(**m) for m in row["matchers"]]
    return StoredSilence(
        id=row["id"],
        tenant_id=row["tenant_id"],
        matchers=matchers,
        starts_at=starts_at,
        ends_at=now,
        created_by=row["created_by"],
        comment=row["comment"],
    )


async def muted_firing(
    session: AsyncSession, in_force: Sequence[str], since: datetime, limit: int
) -> list[dict[str, Any]]:
    """Up to `limit` alerts (alert, anomaly and incident events) still firing that
    something muted, other than the mutes `in_force` (their markers), stamped at or after
    `since`; oldest first. Only an alert's newest row: an older one still marked firing
    (stored before repeats of a firing alert always folded in) is not a live alert."""
    query = sa.select(events).where(sa.text(MUTED_FIRING), events.c.ts >= since, ~_superseded())
    if in_force:
        query = query.where(events.c.silenced_by.not_in(list(in_force)))
    query = query.order_by(events.c.id).limit(limit)
    return [dict(row) for row in (await session.execute(query)).mappings()]


async def remark_muted(
    session: AsyncSession, changes: Sequence[tuple[Mapping[str, Any], str | None]]
) -> set[str]:
    """Set each event row's mute marker to the new one (None: no longer muted), only
    where the row is still as read (another worker may have lifted it, or stored a resolve
    of it, meanwhile); the ids changed."""
    changed: set[str] = set()
    for row, new in changes:
        result = await session.execute(
            events.update()
            .where(
                events.c.id == row["id"],
                events.c.silenced_by == row["silenced_by"],
                events.c.status == row["status"],
                events.c.last_ingest_id == row["last_ingest_id"],
            )
            .values(silenced_by=new)
        )
        event_id = row["id"]
        if getattr(result, "rowcount", 0):
            changed.add(event_id)
    return changed
