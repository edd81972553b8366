"""`GET /api/v1/events`: the stored, deduplicated events, filtered and paged."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from vigil.events import EventStatus, Severity
from vigil.interfaces.api.deps import NOT_FOUND, IsoTime, RuntimeDep, TenantDep
from vigil.pipeline.repository import EventQuery, StoredEvent, get_event, list_events

__all__ = ["EventPage", "router"]

router = APIRouter(prefix="/api/v1/events", tags=["events"])


class EventPage(BaseModel):
    items: list[StoredEvent]
    next: str | None  # pass as `before` for the next (older) page


@router.get("")
async def events(  # noqa: PLR0913 - query parameters
    runtime: RuntimeDep,
    tenant: TenantDep,
    service: str | None = None,
    severity: Severity | None = None,
    status: EventStatus | None = None,
    since: IsoTime | None = None,
    before: Annotated[str | None, Query(description="cursor from `next`")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EventPage:
    """Newest first. Each item is one alert with its repeats folded in."""
    query = EventQuery(
        tenant_id=tenant,
        service=service,
        severity=severity.value if severity else None,
        status=status.value if status else None,
        since=since,
        before_id=before,
        limit=limit,
    )
    async with runtime.db.session() as session:
        items = await list_events(session, query)
    return EventPage(items=items, next=items[-1].id if len(items) == limit else None)


@router.get("/{event_id}", responses=NOT_FOUND)
async def event(event_id: str, runtime: RuntimeDep, tenant: TenantDep) -> StoredEvent:
    async with runtime.db.session() as session:
        found = await get_event(session, tenant, event_id)
    if found is None:
        raise HTTPException(404, f"no event {event_id!r}")
    return found
