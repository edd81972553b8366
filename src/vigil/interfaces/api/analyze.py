"""``POST /api/v1/analyze``: rank root causes in a telemetry bundle folder."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from vigil.analysis.rca import RcaResult, analyze_bundle
from vigil.interfaces.api.deps import BAD_BODY, NOT_FOUND
from vigil.telemetry.folder import BundleFormatError, read_bundle_folder

__all__ = ["AnalyzeRequest", "router"]

router = APIRouter(tags=["analysis"])


class AnalyzeRequest(BaseModel):
    """A bundle folder on the server and the incident window."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bundle: str = Field(description="Path of a bundle folder (docs/bundle-format.md).")
    start: datetime = Field(description="Anomaly boundary; data before it is the baseline.")
    end: datetime = Field(description="End of the incident window.")


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _analyze(request: AnalyzeRequest) -> RcaResult:
    bundle = read_bundle_folder(Path(request.bundle), end=_utc(request.end))
    return analyze_bundle(bundle, _utc(request.start))


@router.post("/api/v1/analyze", responses={**BAD_BODY, **NOT_FOUND})
async def analyze(request: AnalyzeRequest) -> RcaResult:
    """Ranked root causes with their evidence, best first."""
    if _utc(request.end) <= _utc(request.start):
        raise HTTPException(status_code=422, detail="end must be after start")
    try:
        return await run_in_threadpool(_analyze, request)
    except BundleFormatError as error:
        raise HTTPException(status_code=404, detail=str(error)) from error
