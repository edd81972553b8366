"""`/api/v1/silences`: mute matching events until a silence expires or is expired."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from pydantic import AwareDatetime, BaseModel, Field, model_validator

from vigil.interfaces.api.deps import (
    BAD_BODY,
    INVALID,
    NOT_FOUND,
    IsoTime,
    RuntimeDep,
    TenantDep,
    TextIn,
)
from vigil.pipeline.repository import (
    StoredSilence,
    active_silences,
    expire_silence,
    insert_silence,
)
from vigil.platform.settings import Matcher

__all__ = ["SilenceIn", "SilenceOut", "router"]

router = APIRouter(prefix="/api/v1/silences", tags=["silences"])


class SilenceIn(TextIn):
    """A silence: every matcher must match (regexes fully anchored). It mutes events that
    arrive between `starts_at` (default: now) and `ends_at`."""

    matchers: list[Matcher] = Field(min_length=1)
    starts_at: IsoTime | None = None
    ends_at: IsoTime
    created_by: str = Field(min_length=1, max_length=255)
    comment: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> SilenceIn:
        if self.starts_at is not None and self.starts_at >= self.ends_at:
            raise ValueError("starts_at must be before ends_at")
        return self


class SilenceOut(BaseModel):
    id: str
    matchers: list[Matcher]
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    created_by: str
    comment: str


def _out(s: StoredSilence) -> SilenceOut:
    return SilenceOut(
        id=s.id,
        matchers=s.matchers,
        starts_at=s.starts_at,
        ends_at=s.ends_at,
        created_by=s.created_by,
        comment=s.comment,
    )


@router.get("")
async def silences(runtime: RuntimeDep, tenant: TenantDep) -> list[SilenceOut]:
    """Silences not yet expired (stored ones; configured ones live in the config file)."""
    async with runtime.db.session() as session:
        found = await active_silences(session, runtime.clock.now())
    return [_out(s) for s in found if s.tenant_id == tenant]


@router.post("", status_code=201, responses={**BAD_BODY, **INVALID})
async def create(body: SilenceIn, runtime: RuntimeDep, tenant: TenantDep) -> SilenceOut:
    now = runtime.clock.now()
    if body.ends_at <= now:
        raise HTTPException(422, f"ends_at {body.ends_at.isoformat()} is not in the future")
    silence = StoredSilence(
        id=runtime.ids.new(),
        tenant_id=tenant,
        matchers=body.matchers,
        starts_at=body.starts_at or now,
        ends_at=body.ends_at,
        created_by=body.created_by,
        comment=body.comment,
    )
    async with runtime.db.writing() as session:
        await insert_silence(session, silence, now)
        await session.commit()
    return _out(silence)


@router.delete("/{silence_id}", responses=NOT_FOUND)
async def expire(silence_id: str, runtime: RuntimeDep, tenant: TenantDep) -> SilenceOut:
    """End a silence now. It is kept (with the times it really ran) for the record; events
    that arrive from now on are no longer muted by it."""
    async with runtime.db.writing() as session:
        found = await expire_silence(session, tenant, silence_id, runtime.clock.now())
        if found is None:
            raise HTTPException(404, f"no running silence {silence_id!r}")
        await session.commit()
    return _out(found)
