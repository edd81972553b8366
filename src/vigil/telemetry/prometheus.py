"""PromQL HTTP API client (`/api/v1/query_range`, `/api/v1/query`) returning typed series.

Failures never raise: a :class:`PromResult` carries either the series or a
:class:`~vigil.telemetry.query.QueryFailure` naming the query, time range and upstream
status. A range longer than Prometheus' 11,000 points per series is split into several
requests and the pieces joined per label set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from vigil.telemetry.query import (
    QueryFailure,
    QueryWindow,
    api_client,
    failure_from_exception,
    failure_from_response,
)

__all__ = ["MAX_POINTS", "PromResult", "PromSeries", "PrometheusClient"]

MAX_POINTS = 10_000  # per series and request; Prometheus refuses more than 11,000


@dataclass(frozen=True, slots=True)
class PromSeries:
    """One label set and its samples as (unix seconds, value), oldest first."""

    labels: dict[str, str]
    points: list[tuple[float, float]]

    @property
    def key(self) -> tuple[tuple[str, str], ...]:
        return tuple(sorted(self.labels.items()))


@dataclass(frozen=True, slots=True)
class PromResult:
    """The series a query returned, or why it returned none (`failure`)."""

    query: str
    window: QueryWindow | None
    series: list[PromSeries] = field(default_factory=list)
    failure: QueryFailure | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failure is None


def _seconds(moment: datetime) -> str:
    return f"{moment.timestamp():.3f}"


def _points(values: list[list[Any]]) -> list[tuple[float, float]]:
    # Prometheus renders values as strings: "1.5", "NaN", "+Inf".
    return [(float(ts), float(value)) for ts, value in values]


def _series(data: dict[str, Any]) -> list[PromSeries]:
    kind = data.get("resultType")
    out: list[PromSeries] = []
    for item in data.get("result", []):
        labels = {str(k): str(v) for k, v in item.get("metric", {}).items()}
        if kind == "matrix":
            out.append(PromSeries(labels, _points(item.get("values", []))))
        elif kind == "vector":
            out.append(PromSeries(labels, _points([item["value"]])))
    if kind == "scalar":
        out.append(PromSeries({}, _points([data["result"]])))
    return out


class PrometheusClient:
    """Talks to one Prometheus (or a compatible API such as Thanos or Mimir); async."""

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

    async def query(self, query: str, at: datetime | None = None) -> PromResult:
        """`/api/v1/query`: the instant vector at `at` (Prometheus' now when None)."""
        params = {"query": query}
        window = None
        if at is not None:
            params["time"] = _seconds(at)
            window = QueryWindow(at, at)
        return await self._get("/api/v1/query", params, query, window)

    async def query_range(
        self, query: str, start: datetime, end: datetime, step: timedelta
    ) -> PromResult:
        """`/api/v1/query_range` from `start` to `end` (inclusive) every `step`."""
        seconds = step.total_seconds()
        window = QueryWindow(start, end, seconds)
        if seconds <= 0 or end < start:
            detail = f"empty window or step {seconds:g}s"
            return PromResult(
                query, window, failure=QueryFailure("bad_query", False, detail, query, window)
            )
        pieces: list[PromResult] = []
        for piece_start, piece_end in _split(start, end, seconds):
            params = {
                "query": query,
                "start": _seconds(piece_start),
                "end": _seconds(piece_end),
                "step": f"{seconds:g}",
            }
            result = await self._get("/api/v1/query_range", params, query, window)
            if not result.ok:
                return result
            pieces.append(result)
        return _join(query, window, pieces)

    async def _get(
        self, path: str, params: dict[str, str], query: str, window: QueryWindow | None
    ) -> PromResult:
        try:
            response = await self._http.get(path, params=params)
        except httpx.HTTPError as exc:
            return PromResult(query, window, failure=failure_from_exception(exc, query, window))

        def failed(detail: str) -> PromResult:
            failure = failure_from_response(response, detail, query, window)
            return PromResult(query, window, failure=failure)

        try:
            body = response.json()
        except ValueError:
            return failed(f"not JSON: {response.text[:200]!r}")
        if not isinstance(body, dict):  # a proxy's or gateway's answer, not the API's
            return failed(f"not a JSON object: {response.text[:200]!r}")
        if response.status_code != 200 or body.get("status") != "success":
            return failed(
                f"{body.get('errorType', 'error')}: {body.get('error', response.reason_phrase)}"
            )
        try:
            series = _series(body.get("data", {}))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            return failed(f"unexpected result shape: {type(exc).__name__}: {exc}")
        return PromResult(query, window, series, warnings=list(body.get("warnings", [])))


def _split(start: datetime, end: datetime, step: float) -> list[tuple[datetime, datetime]]:
    """Consecutive ranges on the same grid, each at most MAX_POINTS points."""
    steps = math.floor((end - start).total_seconds() / step + 1e-9)
    pieces = []
    first = 0
    while first <= steps:
        last = min(steps, first + MAX_POINTS - 1)
        pieces.append(
            (start + timedelta(seconds=first * step), start + timedelta(seconds=last * step))
        )
        first = last + 1
    return pieces


def _join(query: str, window: QueryWindow, pieces: list[PromResult]) -> PromResult:
    if len(pieces) == 1:
        return pieces[0]
    joined: dict[tuple[tuple[str, str], ...], PromSeries] = {}
    warnings: list[str] = []
    for piece in pieces:
        warnings.extend(piece.warnings)
        for series in piece.series:
            known = joined.setdefault(series.key, PromSeries(series.labels, []))
            known.points.extend(series.points)
    return PromResult(query, window, list(joined.values()), warnings=warnings)
