"""What a telemetry query failed on: the exact query, time range and upstream status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import httpx

__all__ = [
    "QueryFailure",
    "QueryWindow",
    "api_client",
    "failure_from_exception",
    "failure_from_response",
]


def api_client(
    base_url: str, *, timeout: float, transport: httpx.AsyncBaseTransport | None
) -> httpx.AsyncClient:
    """The HTTP client of a telemetry API. trust_env=False: a proxy from the environment
    must not capture a loopback URL."""
    return httpx.AsyncClient(
        base_url=base_url, timeout=timeout, transport=transport, trust_env=False
    )


@dataclass(frozen=True, slots=True)
class QueryWindow:
    """The time range (and resolution, for range queries) a query asked for."""

    start: datetime
    end: datetime
    step_seconds: float | None = None

    def describe(self) -> str:
        step = f" step {self.step_seconds:g}s" if self.step_seconds is not None else ""
        return f"{self.start.isoformat()} .. {self.end.isoformat()}{step}"


@dataclass(frozen=True, slots=True)
class QueryFailure:
    """Why a query returned nothing usable. `reason` is stable (`unreachable`, `timeout`,
    `bad_query`, `upstream_error`, `bad_response`); `retryable` says whether trying the
    same query again later may succeed."""

    reason: str
    retryable: bool
    detail: str
    query: str
    window: QueryWindow | None
    upstream_status: int | None = None

    def message(self) -> str:
        """One line naming the query, its window and what the upstream said."""
        where = f" over {self.window.describe()}" if self.window else ""
        status = f"upstream {self.upstream_status}" if self.upstream_status else "no response"
        return f"{self.reason}: {self.query!r}{where}: {status}: {self.detail}"


def failure_from_exception(
    exc: httpx.HTTPError, query: str, window: QueryWindow | None
) -> QueryFailure:
    """A transport error (nothing came back) as a failure."""
    reason = "timeout" if isinstance(exc, httpx.TimeoutException) else "unreachable"
    detail = f"{type(exc).__name__}: {exc}"[:500]
    return QueryFailure(reason, True, detail, query, window)


def failure_from_response(
    response: httpx.Response, detail: str, query: str, window: QueryWindow | None
) -> QueryFailure:
    """An answer that is not a result: 4xx is the query's fault, anything else the server's."""
    status = response.status_code
    bad_query = status in (400, 422)
    reason = "bad_query" if bad_query else ("upstream_error" if status >= 300 else "bad_response")
    retryable = status >= 500 or status == 429
    return QueryFailure(reason, retryable, detail[:500], query, window, status)
