"""`/api/v1/dead-letters`: what Vigil could not take, why, and replay after a fix."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from vigil.interfaces.api.deps import NOT_FOUND, RuntimeDep, TenantDep
from vigil.pipeline import ReplayResult
from vigil.pipeline.deadletters import DeadLetter, get_dead_letter, list_dead_letters

__all__ = ["DeadLetterPage", "router"]

router = APIRouter(prefix="/api/v1/dead-letters", tags=["dead letters"])


class DeadLetterPage(BaseModel):
    items: list[DeadLetter]
    next: str | None


@router.get("")
async def dead_letters(
    runtime: RuntimeDep,
    tenant: TenantDep,
    pending: bool = False,
    before: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DeadLetterPage:
    """Newest first; `pending=true` hides the ones replayed successfully."""
    async with runtime.db.session() as session:
        items = await list_dead_letters(
            session, tenant, limit=limit, before_id=before, pending_only=pending
        )
    return DeadLetterPage(items=items, next=items[-1].id if len(items) == limit else None)


@router.get("/{dead_letter_id}", responses=NOT_FOUND)
async def dead_letter(dead_letter_id: str, runtime: RuntimeDep, tenant: TenantDep) -> DeadLetter:
    async with runtime.db.session() as session:
        found = await get_dead_letter(session, tenant, dead_letter_id)
    if found is None:
        raise HTTPException(404, f"no dead letter {dead_letter_id!r}")
    return found


class ReplayOut(BaseModel):
    dead_letter_id: str
    ok: bool
    detail: str


@router.post("/{dead_letter_id}/replay", responses=NOT_FOUND)
async def replay(dead_letter_id: str, runtime: RuntimeDep, tenant: TenantDep) -> ReplayOut:
    """Parse or process again (after a fix). A failure keeps the dead letter, with why."""
    result: ReplayResult = await runtime.replayer.replay(tenant, dead_letter_id)
    if result.detail == "no such dead letter":
        raise HTTPException(404, f"no dead letter {dead_letter_id!r}")
    return ReplayOut(dead_letter_id=result.dead_letter_id, ok=result.ok, detail=result.detail)
