"""FastAPI dependencies: the runtime, the tenant of a request, error bodies."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse

from vigil.interfaces.runtime import Runtime

__all__ = ["RuntimeDep", "TenantDep", "error_response", "get_runtime", "get_tenant"]


# Both are `async def` on purpose: FastAPI runs a plain `def` dependency on its thread
# pool, a thread hop per request for a dictionary lookup.
async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_tenant(
    runtime: RuntimeDep, x_vigil_tenant: Annotated[str | None, Header()] = None
) -> str:
    return x_vigil_tenant or runtime.settings.default_tenant


TenantDep = Annotated[str, Depends(get_tenant)]


def error_response(status: int, problem: str, **extra: Any) -> JSONResponse:
    """Every API error has the same shape: `{"error": {"status", "problem", ...}}`."""
    return JSONResponse(
        status_code=status, content={"error": {"status": status, "problem": problem, **extra}}
    )
