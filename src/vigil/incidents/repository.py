"""Queries over incidents, their members, timelines and feedback. Never commits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from vigil.incidents.lifecycle import ACTIVE_STATES, IncidentState
from vigil.incidents.tables import (
    incident_feedback,
    incident_members,
    incident_timeline,
    incidents,
)
from vigil.incidents.view import KeyStat, MemberView, Summary

__all__ = [
    "BatchKeys",
    "IncidentQuery",
    "get_incident",
    "insert_feedback",
    "insert_incidents",
    "insert_members",
    "insert_timeline",
    "list_incidents",
    "load_incidents",
    "lock_tenant",
    "members_of",
    "move_members",
    "set_members_firing",
    "timeline_of",
    "update_incidents",
]


async def lock_tenant(session: AsyncSession, tenant_id: str) -> None:
    """Serialise incident work for a tenant until the transaction ends, so two workers
    cannot open two incidents for one failure (Postgres advisory lock; on SQLite the
    IMMEDIATE write transaction already excludes every other writer). Callers take it
    after any fingerprint locks, always in that order."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            # Advisory locks are database-wide: the schema keeps Vigils apart that share one.
            sa.text(
                "SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || '/' || :key, 1))"
            ),
            {"key": f"incidents/{tenant_id}"},
        )


def _member(row: Mapping[str, Any]) -> MemberView:
    return MemberView(
        event_id=row["event_id"],
        fingerprint=row["fingerprint"],
        family=row["family"],
        service=row["service"],
        group_key=row["group_key"],
        change_keys=frozenset(row["change_keys"]),
        severity=row["severity"],
        priority=row["priority"],
        firing=row["firing"],
        attached_at=row["attached_at"],
        reason_kind=row["reason_kind"],
        reason=row["reason"],
    )


async def members_of(
    session: AsyncSession, incident_ids: Sequence[str]
) -> dict[str, list[MemberView]]:
    found: dict[str, list[MemberView]] = {i: [] for i in incident_ids}
    if incident_ids:
        query = sa.select(incident_members).where(incident_members.c.incident_id.in_(incident_ids))
        for row in (await session.execute(query)).mappings():
            found[row["incident_id"]].append(_member(dict(row)))
    return found


@dataclass(frozen=True, slots=True)
class BatchKeys:
    """What the alerts of one unit of work can match on: only members sharing these are
    loaded (a few per key, the latest started), so a huge incident stays cheap."""

    event_ids: Sequence[str]
    services: Sequence[str]  # the alerts' services and the services they call
    families: Sequence[str]
    group_keys: Sequence[str]
    since: datetime  # members started before this are too old to match by time


# Members loaded per incident and key: the latest started ones are the nearest in time to
# new alerts, which arrive roughly in order.
_PER_KEY = 5


async def load_incidents(
    session: AsyncSession, tenant_id: str, *, resolved_since: datetime, keys: BatchKeys
) -> list[tuple[dict[str, Any], list[MemberView], Summary]]:
    """The tenant's live incidents: active ones, ones resolved since `resolved_since`
    (they may still flap back), and those holding any of the batch's events. Each comes
    with the members the batch may match or change, and a summary of all its members."""
    live = sa.or_(
        incidents.c.state.in_([s.value for s in ACTIVE_STATES]),
        sa.and_(
            incidents.c.state == IncidentState.RESOLVED.value,
            incidents.c.resolved_at >= resolved_since,
        ),
    )
    if keys.event_ids:
        holding = sa.select(incident_members.c.incident_id).where(
            incident_members.c.tenant_id == tenant_id,
            incident_members.c.event_id.in_(keys.event_ids),
        )
        live = sa.or_(live, incidents.c.id.in_(holding))
    query = sa.select(incidents).where(
        incidents.c.tenant_id == tenant_id, incidents.c.merged_into.is_(None), live
    )
    rows = [dict(r) for r in (await session.execute(query)).mappings()]
    ids = [r["id"] for r in rows]
    openers = [r["opener_event_id"] for r in rows]
    members = await _needed_members(session, ids, openers, keys)
    summaries = await _summaries(session, ids, keys)
    return [(row, members[row["id"]], summaries[row["id"]]) for row in rows]


async def _needed_members(
    session: AsyncSession, ids: Sequence[str], openers: Sequence[str], keys: BatchKeys
) -> dict[str, list[MemberView]]:
    found: dict[str, dict[str, MemberView]] = {i: {} for i in ids}
    if not ids:
        return {}
    m = incident_members
    queries = [
        _latest_per(m.c.service, keys.services, ids, keys.since),
        _latest_per(m.c.family, keys.families, ids, keys.since),
        _latest_per(m.c.group_key, keys.group_keys, ids, keys.since),
        _changed(session, ids, keys.since),
        # The first and the latest alert of each incident (auto-resolve reads them).
        sa.select(m).where(
            m.c.incident_id.in_(ids),
            sa.or_(m.c.event_id.in_(openers), m.c.attached_at == _latest_start(m)),
        ),
    ]
    if keys.event_ids:
        queries.append(
            sa.select(m).where(m.c.incident_id.in_(ids), m.c.event_id.in_(keys.event_ids))
        )
    for query in queries:
        if query is None:
            continue
        for row in (await session.execute(query)).mappings():
            found[row["incident_id"]][row["event_id"]] = _member(dict(row))
    return {i: list(members.values()) for i, members in found.items()}


def _latest_start(m: sa.Table) -> sa.ScalarSelect[Any]:
    other = incident_members.alias("other")
    return (
        sa.select(sa.func.max(other.c.attached_at))
        .where(other.c.incident_id == m.c.incident_id)
        .scalar_subquery()
    )


def _latest_per(
    column: sa.Column[Any], values: Sequence[str], ids: Sequence[str], since: datetime
) -> sa.Select[Any] | None:
    """Up to `_PER_KEY` latest started members per incident and `column` value."""
    if not values:
        return None
    m = incident_members
    rank = sa.func.row_number().over(
        partition_by=(m.c.incident_id, column), order_by=m.c.attached_at.desc()
    )
    ranked = (
        sa.select(m, rank.label("rank"))
        .where(m.c.incident_id.in_(ids), column.in_(values), m.c.attached_at >= since)
        .subquery()
    )
    return sa.select(*(ranked.c[c.name] for c in m.columns)).where(ranked.c.rank <= _PER_KEY)


def _changed(session: AsyncSession, ids: Sequence[str], since: datetime) -> sa.Select[Any]:
    """Recent members that carry a deploy, commit or trace id."""
    m = incident_members
    length = (
        "jsonb_array_length"
        if session.get_bind().dialect.name == "postgresql"
        else "json_array_length"
    )
    return (
        sa.select(m)
        .where(m.c.incident_id.in_(ids), m.c.attached_at >= since)
        .where(getattr(sa.func, length)(m.c.change_keys) > 0)
        .order_by(m.c.attached_at.desc())
        .limit(200)
    )


async def _summaries(
    session: AsyncSession, ids: Sequence[str], keys: BatchKeys
) -> dict[str, Summary]:
    """Counts, severities and best priority over all members; firing counts of the
    batch's group keys and families."""
    parts: dict[str, dict[str, Any]] = {
        i: {"count": 0, "firing": 0, "severities": set(), "best": "P3", "keys": {}} for i in ids
    }
    if not ids:
        return {}
    m = incident_members.c
    firing = sa.func.sum(sa.case((m.firing, 1), else_=0))
    query = (
        sa.select(m.incident_id, m.severity, sa.func.count(), firing, sa.func.min(m.priority))
        .where(m.incident_id.in_(ids))
        .group_by(m.incident_id, m.severity)
    )
    for incident_id, severity, count, fired, best in (await session.execute(query)).all():
        part = parts[incident_id]
        part["count"] += count
        part["firing"] += int(fired or 0)
        part["severities"].add(severity)
        part["best"] = min(part["best"], best)
    for kind, column, values in (("family", m.family, keys.families),
                                 ("group", m.group_key, keys.group_keys)):  # fmt: skip
        if not values:
            continue
        query = (
            sa.select(m.incident_id, column, sa.func.count(), sa.func.max(m.attached_at))
            .where(m.incident_id.in_(ids), m.firing, column.in_(values))
            .group_by(m.incident_id, column)
        )
        for incident_id, value, count, latest in (await session.execute(query)).all():
            parts[incident_id]["keys"][(kind, value)] = KeyStat(count, latest)
    return {
        i: Summary(p["count"], p["firing"], frozenset(p["severities"]), p["best"], p["keys"])
        for i, p in parts.items()
    }


async def insert_incidents(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(incidents.insert(), rows)


_UPDATABLE = (
    "title", "state", "severity", "priority", "services", "alert_count", "acknowledged_at",
    "mitigated_at", "resolved_at", "learned_at", "last_activity_at", "updated_at",
    "reopened", "merged_into",
)  # fmt: skip


async def update_incidents(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    statement = (
        incidents.update()
        .where(incidents.c.id == sa.bindparam("b_id"))
        .values({name: sa.bindparam(f"b_{name}") for name in _UPDATABLE})
    )
    params = [{"b_id": r["id"], **{f"b_{n}": r[n] for n in _UPDATABLE}} for r in rows]
    await session.execute(statement, params)


async def insert_members(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(incident_members.insert(), rows)


async def set_members_firing(
    session: AsyncSession, changes: Mapping[tuple[str, str], bool]
) -> None:
    if not changes:
        return
    statement = (
        incident_members.update()
        .where(
            incident_members.c.incident_id == sa.bindparam("b_incident"),
            incident_members.c.event_id == sa.bindparam("b_event"),
        )
        .values(firing=sa.bindparam("b_firing"))
    )
    params = [{"b_incident": i, "b_event": e, "b_firing": f} for (i, e), f in changes.items()]
    await session.execute(statement, params)


async def move_members(
    session: AsyncSession, from_id: str, to_id: str, event_ids: Sequence[str]
) -> None:
    """Re-home member alerts (merge, split); an alert already in `to_id` stays once."""
    if not event_ids:
        return
    await session.execute(
        incident_members.delete().where(
            incident_members.c.incident_id == from_id,
            incident_members.c.event_id.in_(
                sa.select(incident_members.c.event_id).where(
                    incident_members.c.incident_id == to_id
                )
            ),
        )
    )
    await session.execute(
        incident_members.update()
        .where(
            incident_members.c.incident_id == from_id,
            incident_members.c.event_id.in_(event_ids),
        )
        .values(incident_id=to_id)
    )


async def insert_timeline(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(incident_timeline.insert(), rows)


async def insert_feedback(session: AsyncSession, row: dict[str, Any]) -> None:
    await session.execute(incident_feedback.insert(), [row])


@dataclass(frozen=True, slots=True)
class IncidentQuery:
    """Filters for listing incidents, newest first; `before` is the paging cursor (an id)."""

    tenant_id: str
    state: str | None = None
    priority: str | None = None
    service: str | None = None
    since: datetime | None = None
    before: str | None = None
    limit: int = 50
    include_merged: bool = False


def _filters(q: IncidentQuery) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = [incidents.c.tenant_id == q.tenant_id]
    if q.state:
        where.append(incidents.c.state == q.state)
    if q.priority:
        where.append(incidents.c.priority == q.priority)
    if q.since:
        where.append(incidents.c.detected_at >= q.since)
    if q.before:
        where.append(incidents.c.id < q.before)
    if not q.include_merged:
        where.append(incidents.c.merged_into.is_(None))
    if q.service:
        where.append(
            sa.exists().where(
                incident_members.c.incident_id == incidents.c.id,
                incident_members.c.service == q.service,
            )
        )
    return where


async def list_incidents(session: AsyncSession, q: IncidentQuery) -> list[dict[str, Any]]:
    query = sa.select(incidents).where(*_filters(q)).order_by(incidents.c.id.desc())
    return [dict(r) for r in (await session.execute(query.limit(q.limit))).mappings()]


async def get_incident(
    session: AsyncSession, tenant_id: str, incident_id: str
) -> dict[str, Any] | None:
    query = sa.select(incidents).where(
        incidents.c.tenant_id == tenant_id, incidents.c.id == incident_id
    )
    row = (await session.execute(query)).mappings().one_or_none()
    return dict(row) if row else None


async def timeline_of(session: AsyncSession, incident_id: str) -> list[dict[str, Any]]:
    query = (
        sa.select(incident_timeline)
        .where(incident_timeline.c.incident_id == incident_id)
        .order_by(incident_timeline.c.at, incident_timeline.c.id)
    )
    return [dict(r) for r in (await session.execute(query)).mappings()]
