"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from vigil.interfaces.api.deps import RuntimeDep
from vigil.platform.migrate import current_revision, head_revision

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get(
    "/readyz", responses={503: {"description": "Database or bus unreachable, or not migrated"}}
)
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    """Ready when the database answers and its schema is current, and (with a bus) the
    bus is connected: without it a webhook cannot be taken."""
    checks: dict[str, str] = {}
    try:
        revision = await current_revision(runtime.db)
        checks["database"] = "ok"
        checks["schema"] = "ok" if revision == head_revision() else f"at {revision}"
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    if runtime.bus is not None:
        checks["bus"] = "ok" if runtime.bus.connected else "unreachable"
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse(
        status_code=200 if ok else 503, content={"status": "ok" if ok else "unready", **checks}
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
async def metrics(runtime: RuntimeDep) -> Response:
    runtime.metrics.backlog.set(await runtime.processor.backlog())
    return Response(runtime.metrics.render(), media_type=CONTENT_TYPE_LATEST)
