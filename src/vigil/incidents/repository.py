"""Queries over incidents, their members, timelines and feedback. Never commits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from vigil.incidents.tables import (
    incident_feedback,
    incident_members,
    incident_timeline,
    incidents,
)
from vigil.incidents.view import MemberView

__all__ = [
    "IncidentQuery",
    "get_incident",
    "insert_feedback",
    "insert_incidents",
    "insert_members",
    "insert_timeline",
    "list_incidents",
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


async def insert_incidents(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(incidents.insert(), rows)


_UPDATABLE = (
    "title", "state", "severity", "priority", "services", "alert_count", "detected_at",
    "acknowledged_at",
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
