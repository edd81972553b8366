"""`GET /api/v1/anomalies`: what the detectors raised, newest first, with the evidence."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from vigil.detection import Anomaly, list_anomalies, parse_window
from vigil.interfaces.api.deps import RuntimeDep, TenantDep

__all__ = ["AnomalyPage", "router"]

router = APIRouter(prefix="/api/v1/anomalies", tags=["anomalies"])


class AnomalyPage(BaseModel):
    window: str
    since: datetime
    items: list[Anomaly]


@router.get("")
async def anomalies(
    runtime: RuntimeDep,
    tenant: TenantDep,
    service: str | None = None,
    window: Annotated[str, Query(description="how far back, e.g. 15m, 1h, 2d")] = "1h",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AnomalyPage:
    """Anomalies seen within `window` (metric anomalies, capacity forecasts, log patterns),
    most recently seen first; each carries its evidence (expected value, band, robust
    sigmas and score; or the forecast's crossing time; or the log template, rate change
    and example lines)."""
    try:
        span = parse_window(window)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    since = runtime.clock.now() - span
    async with runtime.db.session() as session:
        items = await list_anomalies(session, tenant, since, service=service, limit=limit)
    return AnomalyPage(window=window, since=since, items=items)
