"""LokiClient at the wire: forward query_range in nanoseconds, paging, errors as results."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from vigil.telemetry.loki import LokiClient, to_ns
from vigil.testing.telemetry_server import FakeTelemetryServer

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
N0 = to_ns(T0)
SELECTOR = '{service="checkout"}'


@pytest.fixture
def server() -> Iterator[FakeTelemetryServer]:
    with FakeTelemetryServer() as fake:
        lines = [(N0 + i * 1_000_000_000 + 7, f"GET /cart {i}") for i in range(5)]
        fake.add_lines(SELECTOR, lines, service="checkout")
        yield fake


def test_nanoseconds() -> None:
    assert to_ns(T0) == 1_795_262_400_000_000_000
    assert to_ns(datetime(1970, 1, 1, 0, 0, 1, 5, tzinfo=UTC)) == 1_000_005_000


async def test_forward_range_in_pages(server: FakeTelemetryServer) -> None:
    client = LokiClient(server.url)
    try:
        result = await client.query_range(SELECTOR, N0, N0 + 10 * 10**9, limit=2)
    finally:
        await client.aclose()
    assert result.ok
    assert result.complete
    assert [line.line for line in result.lines] == [f"GET /cart {i}" for i in range(5)]
    assert result.lines[0].labels == {"service": "checkout"}
    assert result.lines[1].ts == datetime(2026, 11, 21, 12, 0, 1, tzinfo=UTC)
    assert result.next_start_ns == N0 + 10 * 10**9
    pages = [params for path, params in server.requests]
    # A full page leaves the lines of its last nanosecond to the next page.
    assert [p["start"] for p in pages] == [str(N0)] + [
        str(N0 + i * 10**9 + 7) for i in (1, 2, 3, 4)
    ]
    assert {p["direction"] for p in pages} == {"forward"}
    assert {p["query"] for p in pages} == {SELECTOR}


async def test_page_budget_leaves_the_rest_for_later(server: FakeTelemetryServer) -> None:
    client = LokiClient(server.url)
    try:
        result = await client.query_range(SELECTOR, N0, N0 + 10 * 10**9, limit=2, max_pages=1)
    finally:
        await client.aclose()
    assert not result.complete
    assert [line.line for line in result.lines] == ["GET /cart 0"]
    assert result.next_start_ns == N0 + 10**9 + 7
    assert result.read_until == datetime(2026, 11, 21, 12, 0, 1, tzinfo=UTC)


async def test_lines_sharing_a_nanosecond_are_not_cut_by_a_page(
    server: FakeTelemetryServer,
) -> None:
    same = N0 + 10**9 + 7  # "GET /cart 1" is there already
    server.add_lines(SELECTOR, [(same, "POST /pay")], service="checkout")
    client = LokiClient(server.url)
    try:
        result = await client.query_range(SELECTOR, N0, N0 + 10 * 10**9, limit=2)
    finally:
        await client.aclose()
    texts = [line.line for line in result.lines]
    assert sorted(texts) == sorted([f"GET /cart {i}" for i in range(5)] + ["POST /pay"])
    assert result.complete


async def test_error_keeps_lines_read_and_names_the_query(server: FakeTelemetryServer) -> None:
    server.fail_next(400, "parse error at line 1, col 1: syntax error: unexpected IDENTIFIER")
    client = LokiClient(server.url)
    try:
        result = await client.query_range("checkout", N0, N0 + 10**9)
    finally:
        await client.aclose()
    failure = result.failure
    assert failure is not None
    assert (failure.reason, failure.upstream_status, failure.retryable) == ("bad_query", 400, False)
    assert "'checkout'" in failure.message()
    assert "unexpected IDENTIFIER" in failure.message()
    assert result.next_start_ns == N0
