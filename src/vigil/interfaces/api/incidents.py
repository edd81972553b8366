"""`/api/v1/incidents`: list, read, move through the lifecycle, annotate, merge and split."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from vigil.incidents import (
    IllegalTransitionError,
    IncidentNotFoundError,
    IncidentState,
    InvalidRequestError,
    Trigger,
)
from vigil.incidents.read import IncidentDetail, IncidentSummary, incident_detail, list_summaries
from vigil.incidents.repository import IncidentQuery
from vigil.interfaces.api.deps import (
    BAD_BODY,
    CONFLICT,
    NOT_FOUND,
    IsoTime,
    RuntimeDep,
    TenantDep,
    TextIn,
)

__all__ = ["IncidentPage", "router"]

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])

Priority = Annotated[str, Query(pattern="^P[0-3]$")]


class IncidentPage(BaseModel):
    items: list[IncidentSummary]
    next: str | None  # pass as `before` for the next (older) page


class TransitionIn(TextIn):
    trigger: Trigger
    actor: str = Field(min_length=1, max_length=255)
    reason: str = ""


class NoteIn(TextIn):
    actor: str = Field(min_length=1, max_length=255)
    text: str = Field(min_length=1, max_length=10_000)


class MergeIn(TextIn):
    incidents: list[str] = Field(min_length=1, description="incidents folded into this one")
    actor: str = Field(min_length=1, max_length=255)
    reason: str = ""


class SplitIn(TextIn):
    event_ids: list[str] = Field(min_length=1, description="member alerts to move out")
    actor: str = Field(min_length=1, max_length=255)
    reason: str = ""


@router.get("")
async def incidents(  # noqa: PLR0913 - query parameters
    runtime: RuntimeDep,
    tenant: TenantDep,
    state: IncidentState | None = None,
    priority: Priority | None = None,
    service: str | None = None,
    since: IsoTime | None = None,
    before: Annotated[str | None, Query(description="cursor from `next`")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> IncidentPage:
    """Newest first; merged incidents are left out (their alerts live in the target)."""
    query = IncidentQuery(
        tenant_id=tenant,
        state=state.value if state else None,
        priority=priority,
        service=service,
        since=since,
        before=before,
        limit=limit,
    )
    async with runtime.db.session() as session:
        items = await list_summaries(session, query)
    return IncidentPage(items=items, next=items[-1].id if len(items) == limit else None)


async def _detail(runtime: RuntimeDep, tenant: str, incident_id: str) -> IncidentDetail:
    async with runtime.db.session() as session:
        found = await incident_detail(session, tenant, incident_id)
    if found is None:
        raise HTTPException(404, f"no incident {incident_id!r}")
    return found


@router.get("/{incident_id}", responses=NOT_FOUND)
async def incident(incident_id: str, runtime: RuntimeDep, tenant: TenantDep) -> IncidentDetail:
    """One incident with its member alerts (and why each was grouped) and its timeline."""
    return await _detail(runtime, tenant, incident_id)


def _refused(exc: Exception) -> HTTPException:
    if isinstance(exc, IncidentNotFoundError):
        return HTTPException(404, str(exc))
    return HTTPException(409 if isinstance(exc, IllegalTransitionError) else 422, str(exc))


_REFUSALS = (IncidentNotFoundError, IllegalTransitionError, InvalidRequestError)


@router.post("/{incident_id}/transitions", responses={**BAD_BODY, **NOT_FOUND, **CONFLICT})
async def transition(
    incident_id: str, body: TransitionIn, runtime: RuntimeDep, tenant: TenantDep
) -> IncidentDetail:
    """Move the incident (acknowledge, investigate, mitigate, resolve, inconclusive, learn,
    reopen); a move the lifecycle does not allow is a 409 naming the allowed ones."""
    try:
        await runtime.incidents.transition(
            tenant, incident_id, body.trigger, actor=body.actor, reason=body.reason
        )
    except _REFUSALS as exc:
        raise _refused(exc) from None
    return await _detail(runtime, tenant, incident_id)


@router.post(
    "/{incident_id}/notes", status_code=201, responses={**BAD_BODY, **NOT_FOUND, **CONFLICT}
)
async def note(
    incident_id: str, body: NoteIn, runtime: RuntimeDep, tenant: TenantDep
) -> IncidentDetail:
    try:
        await runtime.incidents.note(tenant, incident_id, actor=body.actor, text=body.text)
    except _REFUSALS as exc:
        raise _refused(exc) from None
    return await _detail(runtime, tenant, incident_id)


@router.post("/{incident_id}/merge", responses={**BAD_BODY, **NOT_FOUND, **CONFLICT})
async def merge(
    incident_id: str, body: MergeIn, runtime: RuntimeDep, tenant: TenantDep
) -> IncidentDetail:
    """Fold other incidents into this one (kept as grouping feedback)."""
    try:
        await runtime.incidents.merge(
            tenant, incident_id, body.incidents, actor=body.actor, reason=body.reason
        )
    except _REFUSALS as exc:
        raise _refused(exc) from None
    return await _detail(runtime, tenant, incident_id)


@router.post(
    "/{incident_id}/split", status_code=201, responses={**BAD_BODY, **NOT_FOUND, **CONFLICT}
)
async def split(
    incident_id: str, body: SplitIn, runtime: RuntimeDep, tenant: TenantDep
) -> IncidentDetail:
    """Move member alerts into a new incident, returned (kept as grouping feedback)."""
    try:
        new_id = await runtime.incidents.split(
            tenant, incident_id, body.event_ids, actor=body.actor, reason=body.reason
        )
    except _REFUSALS as exc:
        raise _refused(exc) from None
    return await _detail(runtime, tenant, new_id)
