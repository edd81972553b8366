"""``POST /api/v1/analyze``: rank root causes in a telemetry bundle, named or uploaded.

Two ways to hand over the bundle (docs/bundle-format.md):

* **by reference**: a JSON body ``{"bundle": "<name>", "start": ..., "end": ...}`` names a
  folder under the server's ``bundle_root`` (a path that leaves it, or a table linked
  to a file outside it, is refused, so the API cannot be used to read arbitrary files);
* **by upload**: the bundle folder as a ``.tar.gz``/``.tar`` or ``.zip`` archive in the
  body (``Content-Type: application/gzip``, ``application/x-tar``, ``application/zip``
  or ``application/octet-stream``), the window in the query (``?start=...&end=...``). At
  most ``max_bundle_bytes``, and at most ``UNPACKED_RATIO`` times that unpacked; only its
  ``.csv``/``.csv.gz`` tables are written, into a temporary folder removed after the
  analysis (:mod:`vigil.telemetry.archive` says what is refused and why).

The answer is JSON (:class:`~vigil.analysis.rca.RcaResult`), or readable text when the
``Accept`` header prefers ``text/plain``. One analysis runs at a time per server (they are
CPU-bound, and an upload may take its size times ``UNPACKED_RATIO`` of temporary disk);
others wait their turn.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import ConfigDict, Field, ValidationError

from vigil.analysis.rca import EmptyWindowError, RcaResult, analyze_bundle, check_window
from vigil.interfaces.api.deps import (
    BAD_BODY,
    NOT_FOUND,
    ErrorOut,
    IsoTime,
    RuntimeDep,
    TextIn,
    read_body,
)
from vigil.telemetry.archive import MAX_MEMBERS, ArchiveError, TooLargeError, unpack_bundle
from vigil.telemetry.folder import BundleFormatError, read_bundle_folder

__all__ = ["AnalyzeRequest", "analysis_slots", "describe", "router"]

router = APIRouter(tags=["analysis"])
log = logging.getLogger(__name__)

# An upload may unpack to this many times its size (telemetry CSV compresses about
# tenfold, so a bundle near the size limit must come mostly as plain CSV).
UNPACKED_RATIO = 4

_ARCHIVES = frozenset(
    {
        "application/gzip",
        "application/x-gzip",
        "application/x-tar",
        "application/x-gtar",
        "application/zip",
        "application/octet-stream",
    }
)


class AnalyzeRequest(TextIn):
    """A bundle folder under the server's ``bundle_root`` and the incident window."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bundle: str = Field(
        min_length=1,
        max_length=1024,
        description="Folder under the server's bundle_root (docs/bundle-format.md).",
    )
    start: IsoTime = Field(description="Anomaly boundary; data before it is the baseline.")
    end: IsoTime = Field(description="End of the incident window.")


def _window(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """The window (times in UTC already: ``IsoTime``), checked."""
    if start is None or end is None:
        raise HTTPException(422, "an uploaded bundle needs the window: ?start=...&end=...")
    if end <= start:
        raise HTTPException(422, "end must be after start")
    return start, end


def analysis_slots() -> asyncio.Semaphore:
    """What the app holds (``app.state.analysis_slots``): one analysis at a time."""
    return asyncio.Semaphore(1)


def _named(root: Path, name: str) -> Path:
    """The folder ``name`` under ``root``; refuses names that lead out of it."""
    try:
        return _checked(root, name)
    except (OSError, RuntimeError) as error:  # a name too long, a loop of links
        # Named without the server's paths (Python's own message for a loop has them).
        problem = error.strerror if isinstance(error, OSError) else None
        problem = problem or "it holds a loop of links"
        raise HTTPException(422, f"bundle {name!r} cannot be opened: {problem}") from None


def _checked(root: Path, name: str) -> Path:
    base = root.resolve()
    folder = (base / name).resolve()
    if not folder.is_relative_to(base):
        raise HTTPException(422, f"bundle {name!r} is not a folder under the bundle root")
    if not folder.is_dir():
        raise HTTPException(404, f"no bundle {name!r} under the bundle root")
    # A table (or the reference folder) may be a link; it must not lead out of the root
    # either. A bundle holds a handful of entries: more than that is not a bundle.
    for count, entry in enumerate(folder.rglob("*")):
        if count >= MAX_MEMBERS:
            raise HTTPException(422, f"bundle {name!r} holds more than {MAX_MEMBERS} entries")
        if not entry.resolve().is_relative_to(base):
            inner = entry.relative_to(folder).as_posix()
            raise HTTPException(422, f"{inner!r} of bundle {name!r} leads out of the bundle root")
    return folder


def _rank(folder: Path, start: datetime, end: datetime) -> RcaResult:
    try:
        bundle = read_bundle_folder(folder, end=end)
    except BundleFormatError as error:
        raise HTTPException(422, str(error)) from None
    try:
        check_window(bundle, start)
    except EmptyWindowError as error:
        raise HTTPException(422, str(error)) from None
    try:
        return analyze_bundle(bundle, start)
    except (ValueError, TypeError) as error:
        # Data of a shape the analysis did not foresee: the sender's to fix, and ours to
        # look at (logged with the trace).
        log.warning("analysis of a bundle failed", exc_info=True)
        raise HTTPException(422, f"the bundle's tables could not be analysed: {error}") from None


def _uploaded(archive: bytes, limit: int, start: datetime, end: datetime) -> RcaResult:
    with tempfile.TemporaryDirectory(prefix="vigil-bundle-") as temporary:
        try:
            unpack_bundle(archive, Path(temporary), limit)
        except TooLargeError as error:
            raise HTTPException(413, str(error)) from None
        except ArchiveError as error:
            raise HTTPException(422, str(error)) from None
        return _rank(Path(temporary), start, end)


def _prefers_text(accept: str) -> bool:
    """Whether an ``Accept`` header ranks text/plain above JSON (q-values honoured)."""
    best = {"text": 0.0, "json": 0.0}
    for entry in accept.lower().split(","):
        kind, *params = (part.strip() for part in entry.split(";"))
        quality = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    quality = float(param[2:])
                except ValueError:
                    quality = 0.0
        if kind in ("text/plain", "text/*"):
            best["text"] = max(best["text"], quality)
        if kind in ("application/json", "application/*", "*/*"):
            best["json"] = max(best["json"], quality)
    return best["text"] > best["json"]


def describe(result: RcaResult) -> str:
    """The ranked causes as plain text: rank, service, kind and score, then the
    explanation and the evidence it cites (strongest first), one item a line. Services
    whose score is 0 (nothing above noise once explained by others) share one line."""
    scored = [c for c in result.causes if c.score > 0]
    if not scored:
        return "No root cause found: no evidence stood out from the baseline.\n"
    evidence = {e.id: e for e in result.evidence}
    lines = []
    for rank, cause in enumerate(scored, start=1):
        lines.append(f"{rank}. {cause.service}: {cause.kind} (score {cause.score:.2f})")
        lines.append(f"   {cause.explanation}")
        for item in (evidence[i] for i in cause.evidence_ids if i in evidence):
            lines.append(
                f"   - {item.kind} {item.signal} ({item.direction} {item.strength:.1f} sigma)"
            )
    rest = [c.service for c in result.causes if c.score <= 0]
    if rest:
        lines.append("Also looked at, nothing left once explained: " + ", ".join(rest))
    return "\n".join(lines) + "\n"


def _answer(request: Request, result: RcaResult) -> Response:
    if _prefers_text(request.headers.get("accept", "")):
        return PlainTextResponse(describe(result))
    return JSONResponse(result.model_dump(mode="json"))


async def _read_limited(request: Request, limit: int, what: str) -> bytes:
    body = await read_body(request, limit)
    if len(body) > limit:
        raise HTTPException(413, f"{what} larger than {limit} bytes")
    return body


_REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {"schema": AnalyzeRequest.model_json_schema()},
        **{kind: {"schema": {"type": "string", "format": "binary"}} for kind in sorted(_ARCHIVES)},
    },
}


@router.post(
    "/api/v1/analyze",
    response_model=RcaResult,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Ranked causes (JSON or text)"},
        **BAD_BODY,
        **NOT_FOUND,
        413: {"model": ErrorOut, "description": "Body or unpacked bundle too large"},
        415: {"model": ErrorOut, "description": "Neither JSON nor a tar/zip archive"},
    },
    openapi_extra={"requestBody": _REQUEST_BODY},
)
async def analyze(
    request: Request,
    runtime: RuntimeDep,
    start: IsoTime | None = None,
    end: IsoTime | None = None,
) -> Response:
    """Ranked root causes with their evidence, best first, of a named or uploaded bundle."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    settings = runtime.settings
    if kind == "application/json":
        body = await _read_limited(request, settings.max_body_bytes, "body")
        try:
            named = AnalyzeRequest.model_validate_json(body)
        except ValidationError as error:  # answered like any other invalid request body
            raise RequestValidationError(
                [{**e, "loc": ("body", *e["loc"])} for e in error.errors()]
            ) from None
        window = _window(named.start, named.end)
        folder = _named(settings.bundle_root, named.bundle)
        async with request.app.state.analysis_slots:
            result = await run_in_threadpool(_rank, folder, *window)
    elif kind in _ARCHIVES:
        window = _window(start, end)
        archive = await _read_limited(request, settings.max_bundle_bytes, "bundle")
        limit = settings.max_bundle_bytes * UNPACKED_RATIO
        async with request.app.state.analysis_slots:
            result = await run_in_threadpool(_uploaded, archive, limit, *window)
    else:
        raise HTTPException(
            415, f"send JSON naming a bundle, or the bundle as a tar or zip archive, not {kind!r}"
        )
    return _answer(request, result)
