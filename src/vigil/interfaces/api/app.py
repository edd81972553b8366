"""The FastAPI application: routers under /api/v1, health and metrics at the root."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

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
from vigil.interfaces.api.deps import INVALID, ErrorOut, error_response
from vigil.interfaces.runtime import Runtime

__all__ = ["create_app"]

BAD_URL: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorOut, "description": "Bad request (the URL holds a NUL character)"}
}

# FastAPI's words for a body it could not even decode as text (text that is not valid
# JSON is a 422 naming the position).
_FASTAPI_BODY_ERROR = "There was an error parsing the body"


def _allowed(app: FastAPI, path: str) -> str:
    """Every method some route of this path answers (RFC 9110's `Allow`), from the
    OpenAPI paths (routers included in routers are not flat in FastAPI's route list)."""
    paths: list[tuple[re.Pattern[str], set[str]]] | None = getattr(app.state, "paths", None)
    if paths is None:  # once per app: 405s are rare, the OpenAPI does not change
        paths = [
            (re.compile(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(t))), {m.upper() for m in ops})
            for t, ops in app.openapi()["paths"].items()
        ]
        app.state.paths = paths
    methods = set().union(*(m for pattern, m in paths if pattern.fullmatch(path)))
    return ", ".join(sorted(methods))


class _NoNulInUrl:
    """Refuse (400) a URL holding a NUL character before any route sees it: no text
    column of Postgres can hold one, so a query on it would end in a 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw = scope.get("raw_path") or scope.get("path", "").encode()
            if b"%00" in raw or b"\x00" in raw or b"%00" in scope.get("query_string", b""):
                response = error_response(400, "the URL holds a NUL character (%00)")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


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
    app.add_middleware(_NoNulInUrl)
    app.state.runtime = runtime
    app.state.analysis_slots = analyze.analysis_slots()
    api = (webhooks, events, incidents, stats, deadletters, silences, analyze, anomalies)
    for module in api:
        # Invalid input answers in our error shape, not FastAPI's default validation body.
        app.include_router(module.router, responses={**INVALID, **BAD_URL})
    app.include_router(health.router)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        # Keep the exception's headers: `Allow` on a 405, `WWW-Authenticate` on a 401.
        problem = str(exc.detail)
        if exc.status_code == 400 and problem == _FASTAPI_BODY_ERROR:
            problem = "body is not UTF-8 text, so it cannot be JSON"
        headers = exc.headers
        if exc.status_code == 405:  # Starlette names only the first route of the path
            known = _allowed(app, request.url.path)  # empty for /docs and the like
            headers = {**(headers or {}), **({"Allow": known} if known else {})}
        return error_response(exc.status_code, problem, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ()))
        return error_response(422, str(first.get("msg", "invalid request")), field=field)

    return app
