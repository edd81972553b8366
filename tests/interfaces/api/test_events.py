"""`GET /api/v1/events`: filters (service, severity, status, since), pages, one event."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.ingestion import ingest
from tests.payloads import generic_body, generic_event
from vigil.interfaces.runtime import Runtime
from vigil.testing.clock import FakeClock

URL = "/api/v1/events"

# title, service, severity, status; ingested a minute apart, in this order.
SPECS = [
    ("checkout errors", "checkout", "critical", "firing"),
    ("cart slow", "cart", "warning", "firing"),
    ("checkout slow", "checkout", "warning", "resolved"),
    ("payments errors", "payments", "error", "firing"),
    ("checkout deploy", "checkout", "info", "firing"),
]


@pytest.fixture
async def stored(runtime: Runtime, clock: FakeClock) -> list[str]:
    """Five events; returns their titles newest first."""
    for title, service, severity, status in SPECS:
        event = generic_event(title, clock.now(), service=service, severity=severity, status=status)
        await ingest(runtime, "generic", generic_body(event))
        clock.advance(timedelta(minutes=1))
    return [spec[0] for spec in reversed(SPECS)]


async def titles(client: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await client.get(URL, params=params)
    assert response.status_code == 200, response.text
    return [item["title"] for item in response.json()["items"]]


async def test_all_newest_first(stored: list[str], client: httpx.AsyncClient) -> None:
    assert await titles(client) == stored


async def test_filters(stored: list[str], client: httpx.AsyncClient, clock: FakeClock) -> None:
    assert await titles(client, service="checkout") == [
        "checkout deploy",
        "checkout slow",
        "checkout errors",
    ]
    assert await titles(client, severity="warning") == ["checkout slow", "cart slow"]
    assert await titles(client, status="resolved") == ["checkout slow"]
    assert await titles(client, service="checkout", severity="warning") == ["checkout slow"]
    assert await titles(client, service="nobody") == []
    # The clock now stands 5 minutes after the first event; the last two came in since -2m.
    since = (clock.now() - timedelta(minutes=2)).isoformat()
    assert await titles(client, since=since) == ["checkout deploy", "payments errors"]
    assert await titles(client, since=since, service="checkout") == ["checkout deploy"]


async def test_pages_follow_next(stored: list[str], client: httpx.AsyncClient) -> None:
    pages: list[list[str]] = []
    ids: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = (await client.get(URL, params=params)).json()
        pages.append([item["title"] for item in page["items"]])
        ids.extend(item["id"] for item in page["items"])
        if page["next"] is None:
            break
        assert page["next"] == page["items"][-1]["id"]
        params["before"] = page["next"]
    assert pages == [stored[:2], stored[2:4], stored[4:]]
    assert ids == sorted(ids, reverse=True)


async def test_filters_hold_across_pages(stored: list[str], client: httpx.AsyncClient) -> None:
    first = (await client.get(URL, params={"service": "checkout", "limit": 2})).json()
    rest = (
        await client.get(URL, params={"service": "checkout", "limit": 2, "before": first["next"]})
    ).json()
    assert [i["title"] for i in first["items"] + rest["items"]] == [
        "checkout deploy",
        "checkout slow",
        "checkout errors",
    ]
    assert rest["next"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"severity": "sev1"}, "query.severity"),
        ({"status": "open"}, "query.status"),
        ({"since": "2026-11-21T12:00:00"}, "query.since"),  # no timezone
        ({"limit": 0}, "query.limit"),
        ({"limit": 1001}, "query.limit"),
    ],
)
async def test_bad_query_is_422_naming_the_parameter(
    client: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    response = await client.get(URL, params=params)
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["status"], error["field"]) == (422, field)


async def test_event_by_id(stored: list[str], client: httpx.AsyncClient) -> None:
    listed = (await client.get(URL, params={"status": "resolved"})).json()["items"][0]
    response = await client.get(f"{URL}/{listed['id']}")
    assert response.status_code == 200
    event = response.json()
    assert event == listed
    assert (event["service"], event["severity"], event["status"]) == (
        "checkout",
        "warning",
        "resolved",
    )
    assert event["resolved_at"] == event["ts"]
    assert event["raw"]["title"] == "checkout slow"


async def test_unknown_event_is_404(stored: list[str], client: httpx.AsyncClient) -> None:
    missing = await client.get(f"{URL}/01NOSUCHEVENT0000000000000")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": {"status": 404, "problem": "no event '01NOSUCHEVENT0000000000000'"}
    }
    some_id = (await client.get(URL)).json()["items"][0]["id"]
    foreign = await client.get(f"{URL}/{some_id}", headers={"X-Vigil-Tenant": "acme"})
    assert foreign.status_code == 404
