"""`POST /api/v1/webhooks/{source}`: authenticate, parse, store durably, then answer."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect

from vigil.interfaces.api.deps import (
    BodyBeyondCapError,
    ErrorOut,
    RuntimeDep,
    error_response,
    read_body,
)
from vigil.interfaces.api.webhook_auth import signer, verify
from vigil.interfaces.runtime import Runtime
from vigil.pipeline import IntakeRejectedError
from vigil.pipeline.deadletters import NewDeadLetter, kept_body

log = logging.getLogger(__name__)

__all__ = ["BODY_SECONDS", "router"]

# How long a sender has to deliver its body once the headers are in.
BODY_SECONDS = 30.0
# A signed body over the limit is read on (not kept) to check its signature, up to this
# many times the limit; one longer still is refused unread.
_SIGNED_CAP = 8

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])


@router.post(
    "/{source}",
    status_code=202,
    responses={
        200: {"description": "Already stored (a redelivery); nothing counted twice"},
        400: {"model": ErrorOut, "description": "Body is not JSON (dead-lettered)"},
        401: {"model": ErrorOut, "description": "Missing or wrong credential"},
        404: {
            "model": ErrorOut,
            "description": "Unknown source (dead-lettered, unless webhook credentials are "
            "configured: then nobody vouches for it and it is not kept)",
        },
        408: {"model": ErrorOut, "description": "The body did not arrive in time"},
        413: {"model": ErrorOut, "description": "Body too large (dead-lettered)"},
        415: {"model": ErrorOut, "description": "Compressed body (dead-lettered)"},
        422: {
            "model": ErrorOut,
            "description": "Payload does not match the source's format (dead-lettered)",
        },
        503: {"model": ErrorOut, "description": "Storage unavailable; retry"},
    },
)
async def receive(source: str, request: Request, runtime: RuntimeDep) -> Response:
    """Accept one webhook delivery. A 2xx means the body is durably stored."""
    settings = runtime.settings
    auth = settings.auth_for(source)
    headers = {k.lower(): v for k, v in request.headers.items()}
    query = dict(request.query_params)
    # A bearer credential is in the headers: a request without it is refused before its
    # body is read, so it cannot hold the server by trickling one.
    if auth.mode == "bearer" and not verify(auth, headers, query):
        return _unauthorized(runtime, source)
    known = runtime.sources.external(source)
    if not known and settings.authenticated:  # nobody vouches for it: not read or kept
        return _unknown_source_refused(runtime, source)
    signed = signer(auth)
    limit = settings.max_body_bytes
    try:
        async with asyncio.timeout(BODY_SECONDS):
            body = await read_body(request, limit, signed, cap=_SIGNED_CAP * limit)
    except TimeoutError:
        runtime.metrics.webhooks_rejected.labels(source if known else "unknown", "timeout").inc()
        problem = f"the body did not arrive within {BODY_SECONDS:.0f} s"
        return error_response(408, problem, headers={"Connection": "close"})
    except BodyBeyondCapError as exc:  # too large to be worth checking its signature
        runtime.metrics.webhooks_rejected.labels(source, "too_large").inc()
        return error_response(413, f"{exc}; not read to its end, not kept")
    except ClientDisconnect:
        return error_response(400, "the client went away before sending its body")
    digest = signed.hexdigest() if signed is not None else None
    if auth.mode == "hmac" and not verify(auth, headers, query, digest=digest):
        return _unauthorized(runtime, source)
    if not known:
        return await _unknown_source(runtime, source, body, auth.tenant)
    try:
        result = await runtime.intake.accept(source, body, tenant_id=auth.tenant, headers=headers)
    except IntakeRejectedError as exc:
        return error_response(
            exc.status, exc.problem, field=exc.field, dead_letter_id=exc.dead_letter_id
        )
    except Exception:
        log.exception("%s webhook could not be stored", source)
        runtime.metrics.webhooks_rejected.labels(source, "unavailable").inc()
        # Usually nothing was stored; if it was after all (a bus ack lost on the way), the
        # retry is recognised as a duplicate.
        response = error_response(503, "storage unavailable; retry")
        response.headers["Retry-After"] = "1"
        return response
    content: dict[str, Any] = {
        "status": "duplicate" if result.duplicate else "accepted",
        "intake_id": result.intake_id,
        "events": result.events,
    }
    return JSONResponse(status_code=200 if result.duplicate else 202, content=content)


def _unauthorized(runtime: Runtime, source: str) -> Response:
    label = source if runtime.sources.external(source) else "unknown"
    runtime.metrics.webhooks_rejected.labels(label, "unauthorized").inc()
    response = error_response(401, "missing or invalid credential for this source")
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


def _unknown(runtime: Runtime, source: str) -> str:
    # Label "unknown", not the name: arbitrary names must not grow the metric's cardinality.
    runtime.metrics.webhooks_rejected.labels("unknown", "unknown_source").inc()
    known = ", ".join(runtime.sources.names())
    if source in runtime.sources:
        return f"source {source!r} is Vigil's own and not accepted as a webhook; known: {known}"
    return f"unknown source {source!r}; known: {known}"


def _unknown_source_refused(runtime: Runtime, source: str) -> Response:
    """With webhook credentials configured, a source without any is not written down:
    anyone could fill the disk through it. The sender is told, and the log says so."""
    problem = _unknown(runtime, source)
    log.warning("refused a webhook to %r: not a configured source", source[:64])
    return error_response(404, problem, field="source")


async def _unknown_source(runtime: Runtime, source: str, body: bytes, tenant: str) -> Response:
    problem = _unknown(runtime, source)
    letter = NewDeadLetter(
        tenant_id=tenant,
        source=source[:64],
        kind="payload",
        stage="route",
        field="source",
        reason=problem,
        received_at=runtime.clock.now(),
        **kept_body(body, {}),
    )
    dead_letter_id = await runtime.intake.write_dead_letter(letter)
    return error_response(404, problem, field="source", dead_letter_id=dead_letter_id)
