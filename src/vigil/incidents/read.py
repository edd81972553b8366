"""Read models of incidents for the API and CLI: summaries, details, timelines, stats."""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from vigil.incidents import repository
from vigil.incidents.lifecycle import IncidentState, allowed_triggers
from vigil.incidents.repository import IncidentQuery
from vigil.incidents.tables import incident_members, incidents
from vigil.pipeline.repository import ALERT_TYPES
from vigil.pipeline.tables import events, receipts
from vigil.platform.ids import id_floor

__all__ = [
    "IncidentDetail",
    "IncidentStats",
    "IncidentSummary",
    "Member",
    "TimelineEntry",
    "incident_detail",
    "incident_stats",
    "list_summaries",
]


class _Read(BaseModel):
    model_config = ConfigDict(frozen=True)


class IncidentSummary(_Read):
    id: str
    title: str
    state: IncidentState
    severity: str
    priority: str
    services: list[str]
    alert_count: int
    detected_at: datetime
    acknowledged_at: datetime | None
    mitigated_at: datetime | None
    resolved_at: datetime | None
    learned_at: datetime | None
    last_activity_at: datetime
    reopened: int
    merged_into: str | None
    mtta_seconds: float | None
    mttr_seconds: float | None

    @classmethod
    def of(cls, row: dict[str, Any]) -> IncidentSummary:
        detected = row["detected_at"]
        ack, resolved = row["acknowledged_at"], row["resolved_at"]
        return cls.model_validate(
            {
                **{k: row[k] for k in cls.model_fields if k in row},
                "mtta_seconds": (ack - detected).total_seconds() if ack else None,
                "mttr_seconds": (resolved - detected).total_seconds() if resolved else None,
            }
        )


class Member(_Read):
    """One alert of an incident, and why it was grouped there."""

    event_id: str
    title: str
    service: str | None
    severity: str
    status: str
    fingerprint: str
    attached_at: datetime
    reason_kind: str
    reason: str
    occurrences: int


class TimelineEntry(_Read):
    id: str
    at: datetime
    kind: str
    actor: str
    summary: str
    data: dict[str, Any]


class IncidentDetail(IncidentSummary):
    members: list[Member]
    timeline: list[TimelineEntry]
    allowed_triggers: list[str]


async def list_summaries(session: AsyncSession, query: IncidentQuery) -> list[IncidentSummary]:
    return [IncidentSummary.of(row) for row in await repository.list_incidents(session, query)]


async def _members(session: AsyncSession, incident_id: str) -> list[Member]:
    query = (
        sa.select(
            incident_members,
            events.c.title,
            events.c.status,
            events.c.occurrences,
        )
        .join(events, events.c.id == incident_members.c.event_id)
        .where(incident_members.c.incident_id == incident_id)
        .order_by(incident_members.c.attached_at, incident_members.c.event_id)
    )
    rows = (await session.execute(query)).mappings()
    return [Member.model_validate({k: r[k] for k in Member.model_fields}) for r in rows]


async def incident_detail(
    session: AsyncSession, tenant_id: str, incident_id: str
) -> IncidentDetail | None:
    row = await repository.get_incident(session, tenant_id, incident_id)
    if row is None:
        return None
    summary = IncidentSummary.of(row)
    timeline = [
        TimelineEntry.model_validate({k: r[k] for k in TimelineEntry.model_fields})
        for r in await repository.timeline_of(session, incident_id)
    ]
    return IncidentDetail(
        **summary.model_dump(),
        members=await _members(session, incident_id),
        timeline=timeline,
        # A merged incident lives on in the one it was merged into: nothing moves it.
        allowed_triggers=[]
        if summary.merged_into
        else [t.value for t in allowed_triggers(summary.state)],
    )


class IncidentStats(_Read):
    """Alerts in, incidents out, and how fast incidents were acknowledged and resolved."""

    since: datetime | None
    alerts_in: int
    events_stored: int
    incidents_out: int
    noise_reduction: float | None
    open_incidents: int
    mtta_seconds_median: float | None
    mtta_seconds_mean: float | None
    mttr_seconds_median: float | None
    mttr_seconds_mean: float | None


def _median_mean(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return statistics.median(values), statistics.fmean(values)


async def incident_stats(
    session: AsyncSession, tenant_id: str, since: datetime | None = None
) -> IncidentStats:
    """Since ``since`` (by when Vigil took each in): `alerts_in` counts every notification
    of an alert accepted (repeats included, redeliveries and changes, CI runs and notes
    not), `incidents_out` the incidents opened, with their MTTA and MTTR; noise reduction
    is 1 - incidents out / alerts in. `open_incidents` is every incident open now."""
    alerts = (
        sa.select(sa.func.count())
        .select_from(receipts)
        .where(receipts.c.tenant_id == tenant_id, receipts.c.event_type.in_(ALERT_TYPES))
    )
    stored = sa.select(sa.func.count()).select_from(events).where(events.c.tenant_id == tenant_id)
    found = sa.select(incidents).where(
        incidents.c.tenant_id == tenant_id, incidents.c.merged_into.is_(None)
    )
    active = ("detected", "acknowledged", "investigating", "mitigated")
    still_open = (
        sa.select(sa.func.count())
        .select_from(incidents)
        .where(
            incidents.c.tenant_id == tenant_id,
            incidents.c.state.in_(active),
            incidents.c.merged_into.is_(None),
        )
    )
    if since is not None:
        alerts = alerts.where(receipts.c.received_at >= since)
        stored = stored.where(events.c.last_seen >= since)
        # Opened since: an incident's id is made when it is (its detection time is the
        # sender's, which may be long before).
        found = found.where(incidents.c.id >= id_floor(since))
    alerts_in = int((await session.execute(alerts)).scalar_one())
    rows = [IncidentSummary.of(dict(r)) for r in (await session.execute(found)).mappings()]
    mtta = _median_mean([r.mtta_seconds for r in rows if r.mtta_seconds is not None])
    mttr = _median_mean([r.mttr_seconds for r in rows if r.mttr_seconds is not None])
    return IncidentStats(
        since=since,
        alerts_in=alerts_in,
        events_stored=int((await session.execute(stored)).scalar_one()),
        incidents_out=len(rows),
        noise_reduction=1 - len(rows) / alerts_in if alerts_in else None,
        open_incidents=int((await session.execute(still_open)).scalar_one()),
        mtta_seconds_median=mtta[0],
        mtta_seconds_mean=mtta[1],
        mttr_seconds_median=mttr[0],
        mttr_seconds_mean=mttr[1],
    )
