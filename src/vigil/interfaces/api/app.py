"""The FastAPI application: routers under /api/v1, health and metrics at the root."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

import vigil
from vigil.interfaces.api import (
    analyze,
    anomalies,
    deadletters,
    events,
    health,
    incidents,
    silences,
    stats,
    webhooks,
)
from vigil.interfaces.api.deps import error_response
from vigil.interfaces.runtime import Runtime

__all__ = ["create_app"]


def create_app(runtime: Runtime, *, manage: bool = True) -> FastAPI:
    """`manage=False` when the caller starts and stops the runtime itself."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if manage:
            await runtime.start()
        try:
            yield
        finally:
            if manage:
                await runtime.stop()

    app = FastAPI(
        title="Vigil",
        version=vigil.__version__,
        description="An open-source AI site reliability engineer.",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    for module in (webhooks, events, incidents, stats, deadletters, silences, analyze, health):
        app.include_router(module.router)
    app.include_router(anomalies.router)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ()))
        return error_response(422, str(first.get("msg", "invalid request")), field=field)

    return app
