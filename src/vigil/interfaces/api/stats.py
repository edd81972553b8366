"""`GET /api/v1/stats`: alerts in, incidents out, noise reduction, MTTA and MTTR."""

from __future__ import annotations

from fastapi import APIRouter

from vigil.incidents.read import IncidentStats, incident_stats
from vigil.interfaces.api.deps import IsoTime, RuntimeDep, TenantDep

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/stats", tags=["incidents"])


@router.get("")
async def stats(
    runtime: RuntimeDep, tenant: TenantDep, since: IsoTime | None = None
) -> IncidentStats:
    async with runtime.db.session() as session:
        return await incident_stats(session, tenant, since)
