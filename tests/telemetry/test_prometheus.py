"""PrometheusClient at the wire: range and instant queries against a loopback server that
speaks the Prometheus API; errors come back as results naming query, window and status."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from vigil.telemetry.prometheus import MAX_POINTS, PrometheusClient
from vigil.testing.telemetry_server import FakeTelemetryServer

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
S0 = T0.timestamp()


@pytest.fixture
def server() -> Iterator[FakeTelemetryServer]:
    with FakeTelemetryServer() as fake:
        fake.add_samples("latency", {"service": "checkout"}, [(S0 + i * 15, i) for i in range(8)])
        fake.add_samples("latency", {"service": "search"}, [(S0, math.nan), (S0 + 60, math.inf)])
        yield fake


async def test_range_query_returns_typed_series_on_the_grid(server: FakeTelemetryServer) -> None:
    client = PrometheusClient(server.url)
    try:
        result = await client.query_range(
            'latency{service="checkout"}', T0, T0 + timedelta(seconds=60), timedelta(seconds=30)
        )
    finally:
        await client.aclose()
    assert result.ok, result.failure
    (series,) = result.series
    assert series.labels == {"__name__": "latency", "service": "checkout"}
    assert series.points == [(S0, 0.0), (S0 + 30, 2.0), (S0 + 60, 4.0)]
    path, params = server.requests[-1]
    assert path == "/api/v1/query_range"
    assert params == {
        "query": 'latency{service="checkout"}',
        "start": f"{S0:.3f}",
        "end": f"{S0 + 60:.3f}",
        "step": "30",
    }


async def test_special_values_and_instant_query(server: FakeTelemetryServer) -> None:
    client = PrometheusClient(server.url + "/")
    try:
        ranged = await client.query_range(
            'latency{service="search"}', T0, T0 + timedelta(seconds=60), timedelta(seconds=60)
        )
        instant = await client.query("latency", at=T0 + timedelta(seconds=100))
    finally:
        await client.aclose()
    ((_, first), (_, second)) = ranged.series[0].points
    assert math.isnan(first)
    assert second == math.inf
    assert {s.labels["service"]: s.points for s in instant.series}["checkout"] == [(S0 + 100, 6.0)]


async def test_long_ranges_are_split_and_joined(server: FakeTelemetryServer) -> None:
    points = [(S0 + i * 100.0, float(i)) for i in range(200)]
    server.add_samples("disk", {"service": "db"}, points)
    client = PrometheusClient(server.url)
    end = T0 + timedelta(seconds=MAX_POINTS * 1.5)
    try:
        result = await client.query_range("disk", T0, end, timedelta(seconds=1))
    finally:
        await client.aclose()
    assert result.ok, result.failure
    assert len([r for r in server.requests if r[0] == "/api/v1/query_range"]) == 2
    (series,) = result.series
    stamps = [ts for ts, _ in series.points]
    assert stamps == [S0 + i for i in range(MAX_POINTS * 3 // 2 + 1)]  # no gap, no repeat


async def test_bad_query_names_query_window_and_upstream_status(
    server: FakeTelemetryServer,
) -> None:
    client = PrometheusClient(server.url)
    try:
        result = await client.query_range(
            "rate(x[", T0, T0 + timedelta(minutes=5), timedelta(seconds=15)
        )
    finally:
        await client.aclose()
    failure = result.failure
    assert failure is not None
    assert (failure.reason, failure.retryable, failure.upstream_status) == ("bad_query", False, 400)
    message = failure.message()
    assert "'rate(x['" in message
    assert "2026-11-21T12:00:00+00:00 .. 2026-11-21T12:05:00+00:00 step 15s" in message
    assert "upstream 400" in message
    assert "bad_data: 1:1: parse error" in message


async def test_server_errors_are_retryable(server: FakeTelemetryServer) -> None:
    server.fail_next(503, "Service Unavailable")
    client = PrometheusClient(server.url)
    try:
        result = await client.query("up")
    finally:
        await client.aclose()
    assert result.failure is not None
    assert (result.failure.reason, result.failure.retryable) == ("upstream_error", True)
    assert "not JSON: 'Service Unavailable'" in result.failure.message()


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("[]", "not a JSON object: '[]'"),
        ('"ok"', "not a JSON object"),
        ('{"status":"success","data":[]}', "unexpected result shape: AttributeError"),
        ('{"status":"success","data":{"resultType":"matrix","result":[7]}}', "result shape"),
    ],
)
async def test_answers_of_another_shape_are_failures(
    server: FakeTelemetryServer, body: str, problem: str
) -> None:
    """A gateway or proxy answering 200 with something else: a failed read, never a crash."""
    server.fail_next(200, body)
    client = PrometheusClient(server.url)
    try:
        result = await client.query_range("up", T0, T0, timedelta(seconds=1))
    finally:
        await client.aclose()
    assert result.failure is not None
    assert problem in result.failure.message()


async def test_unreachable_server_is_a_result_not_an_exception() -> None:
    with FakeTelemetryServer() as fake:
        url = fake.url
    client = PrometheusClient(url, timeout=2)
    try:
        result = await client.query_range("up", T0, T0, timedelta(seconds=1))
    finally:
        await client.aclose()
    assert result.failure is not None
    assert (result.failure.reason, result.failure.retryable) == ("unreachable", True)
    assert result.failure.upstream_status is None
    assert "'up'" in result.failure.message()
    assert "no response" in result.failure.message()


async def test_empty_window_is_refused_without_a_request(server: FakeTelemetryServer) -> None:
    client = PrometheusClient(server.url)
    try:
        result = await client.query_range("up", T0, T0 - timedelta(seconds=1), timedelta(0))
    finally:
        await client.aclose()
    assert result.failure is not None
    assert result.failure.reason == "bad_query"
    assert server.requests == []
