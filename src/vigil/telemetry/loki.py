"""Log lines from a Loki-compatible HTTP API (`/loki/api/v1/query_range`, forward).

Failures never raise: a :class:`LokiResult` carries the lines or a
:class:`~vigil.telemetry.query.QueryFailure` naming the LogQL selector, time range and
upstream status. Pages of ``limit`` lines are followed forward (from the last line's
time, whose lines are all read again rather than cut) up to ``max_pages``; when more
remain, ``complete`` is false and ``next_start_ns`` says where to go on (``read_until``:
up to when the lines are complete).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from vigil.telemetry.logfiles import LogLine
from vigil.telemetry.query import (
    QueryFailure,
    QueryWindow,
    api_client,
    failure_from_exception,
    failure_from_response,
)

__all__ = ["LokiClient", "LokiResult", "to_ns"]

_NS = 1_000_000_000


def to_ns(moment: datetime) -> int:
    """An aware datetime as integer nanoseconds since the epoch (Loki's time unit)."""
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * _NS + delta.microseconds * 1000


def _from_ns(ns: int) -> datetime:
    seconds, rest = divmod(ns, _NS)
    return datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=rest // 1000)


@dataclass(frozen=True, slots=True)
class LokiResult:
    """The lines a query returned, oldest first, or why it returned none (`failure`)."""

    query: str
    window: QueryWindow
    lines: list[LogLine] = field(default_factory=list)
    failure: QueryFailure | None = None
    complete: bool = True
    next_start_ns: int | None = None  # after the last line returned

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def read_until(self) -> datetime:
        """Lines before this time were all returned: the window's end when the read was
        complete, else where the next read starts."""
        if (self.complete and self.ok) or self.next_start_ns is None:
            return self.window.end
        return _from_ns(self.next_start_ns)


def _lines(body: dict[str, Any]) -> list[tuple[int, LogLine]]:
    data = body["data"]
    if data.get("resultType") != "streams":
        raise ValueError(f"resultType {data.get('resultType')!r} is not streams")
    out: list[tuple[int, LogLine]] = []
    for stream in data["result"]:
        labels = {str(k): str(v) for k, v in stream.get("stream", {}).items()}
        for ts, line in stream["values"]:
            ns = int(ts)
            out.append((ns, LogLine(_from_ns(ns), str(line), labels)))
    out.sort(key=lambda pair: pair[0])
    return out


class LokiClient:
    """Reads log streams from one Loki (or a compatible API); async."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = api_client(self.base_url, timeout=timeout, transport=transport)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def query_range(
        self,
        selector: str,
        start_ns: int,
        end_ns: int,
        *,
        limit: int = 1000,
        max_pages: int = 10,
    ) -> LokiResult:
        """Lines of `selector` with start_ns <= time < end_ns, oldest first."""
        window = QueryWindow(_from_ns(start_ns), _from_ns(end_ns))
        found: list[LogLine] = []
        cursor = start_ns
        for _ in range(max_pages):
            page = await self._page(selector, cursor, end_ns, limit, window)
            if isinstance(page, QueryFailure):
                return LokiResult(selector, window, found, failure=page, next_start_ns=cursor)
            if len(page) < limit:
                found.extend(line for _, line in page)
                return LokiResult(selector, window, found, next_start_ns=end_ns)
            # A full page may have cut the lines of its last nanosecond short: leave them
            # all to the next page, which starts at that nanosecond (unless the whole page
            # is that one nanosecond; Loki cannot page inside it).
            last = page[-1][0]
            before = [line for ns, line in page if ns < last]
            if before:
                found.extend(before)
                cursor = last
            else:
                found.extend(line for _, line in page)
                cursor = last + 1
        return LokiResult(selector, window, found, complete=False, next_start_ns=cursor)

    async def _page(
        self, selector: str, start_ns: int, end_ns: int, limit: int, window: QueryWindow
    ) -> list[tuple[int, LogLine]] | QueryFailure:
        params = {
            "query": selector,
            "start": str(start_ns),
            "end": str(end_ns),
            "limit": str(limit),
            "direction": "forward",
        }
        try:
            response = await self._http.get("/loki/api/v1/query_range", params=params)
        except httpx.HTTPError as exc:
            return failure_from_exception(exc, selector, window)
        if response.status_code != 200:
            # Loki answers errors as plain text; compatible servers sometimes as JSON.
            return failure_from_response(response, response.text.strip(), selector, window)
        try:
            return _lines(response.json())
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            detail = f"unexpected result shape: {type(exc).__name__}: {exc}"
            return failure_from_response(response, detail, selector, window)
