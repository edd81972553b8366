"""FastAPI dependencies: the runtime, the tenant of a request, error bodies."""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    model_validator,
)

from vigil.interfaces.runtime import Runtime
from vigil.platform.db import check_storable

__all__ = [
    "BAD_BODY",
    "CONFLICT",
    "INVALID",
    "NOT_FOUND",
    "BodyBeyondCapError",
    "ErrorOut",
    "IsoTime",
    "RuntimeDep",
    "TenantDep",
    "TextIn",
    "error_response",
    "get_runtime",
    "get_tenant",
    "read_body",
]


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


def _iso_only(value: object) -> object:
    """pydantic reads a number as Unix seconds; the API documents ISO 8601 times only."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number or (isinstance(value, str) and _NUMBER.fullmatch(value.strip())):
        raise ValueError("expected an ISO 8601 time with an offset, e.g. 2026-11-21T10:00:00Z")
    return value


def _in_utc(value: datetime) -> datetime:
    """The time in UTC (how it is stored and compared); one that has none is refused."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("time out of range once in UTC (years 1 to 9999)") from None


_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
# A query parameter time: ISO 8601 with an offset, as the OpenAPI says (not Unix seconds).
IsoTime = Annotated[AwareDatetime, BeforeValidator(_iso_only), AfterValidator(_in_utc)]


class TextIn(BaseModel):
    """A request body of the management API: its text is stored as sent, so text no
    database column holds (a NUL, a lone surrogate) is a 422, not a 500."""

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        check_storable(data)
        return data


class BodyBeyondCapError(Exception):
    """A body went on past the most a server reads of one (`read_body`'s `cap`)."""


async def read_body(
    request: Request, limit: int, digest: hmac.HMAC | None = None, cap: int | None = None
) -> bytes:
    """Read at most `limit + 1` bytes so an oversized body is refused, not buffered. With
    `digest`, the rest is still read (not kept) and fed to it, so that its signature can
    be checked, up to `cap` bytes in all (then `BodyBeyondCapError`)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        if digest is not None:
            digest.update(chunk)
        if size <= limit:
            chunks.append(chunk)
        size += len(chunk)
        if size > limit and digest is None:
            break
        if cap is not None and size > cap:
            raise BodyBeyondCapError(f"the body goes on past {cap} bytes")
    return b"".join(chunks)


def error_response(
    status: int, problem: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """Every API error has the same shape: `{"error": {"status", "problem", ...}}`."""
    return JSONResponse(
        status_code=status,
        content={"error": {"status": status, "problem": problem, **extra}},
        headers=headers,
    )


class ErrorDetail(BaseModel):
    """What went wrong; `field` names the offending input, `dead_letter_id` the record
    kept of a refused webhook body."""

    model_config = ConfigDict(extra="allow")

    status: int
    problem: str
    field: str | None = None
    dead_letter_id: str | None = None


class ErrorOut(BaseModel):
    """The shape of every API error."""

    error: ErrorDetail


# OpenAPI declarations of the errors routes answer with (all in the `ErrorOut` shape).
INVALID: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorOut, "description": "Invalid request (the problem names the field)"}
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No such resource (in this tenant)"}
}
BAD_BODY: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "The body is not UTF-8 text"}
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "Not allowed in the resource's current state"}
}
