"""The application: routes under /api/v1, OpenAPI at /docs, one error shape."""

from __future__ import annotations

import httpx


async def test_openapi_lists_the_routes(client: httpx.AsyncClient) -> None:
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    spec = (await client.get("/openapi.json")).json()
    assert spec["info"]["title"] == "Vigil"
    paths = set(spec["paths"])
    assert {
        "/api/v1/webhooks/{source}",
        "/api/v1/events",
        "/api/v1/events/{event_id}",
        "/api/v1/dead-letters",
        "/api/v1/dead-letters/{dead_letter_id}",
        "/api/v1/dead-letters/{dead_letter_id}/replay",
        "/api/v1/silences",
        "/healthz",
        "/readyz",
        "/metrics",
    } <= paths
    responses = spec["paths"]["/api/v1/webhooks/{source}"]["post"]["responses"]
    assert {"200", "202", "400", "401", "404", "413", "422"} <= set(responses)


async def test_unknown_route_has_the_error_shape(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"error": {"status": 404, "problem": "Not Found"}}


async def test_wrong_method_has_the_error_shape(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/webhooks/alertmanager")
    assert response.status_code == 405
    assert response.json()["error"]["status"] == 405


async def test_wrong_method_names_the_allowed_ones(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/webhooks/alertmanager")
    assert response.headers["allow"] == "POST"


async def test_a_body_that_is_not_text_is_a_precise_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/silences", content=b"\xff\xfe{", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["problem"].startswith("body is not UTF-8 text")


async def test_the_documented_errors_have_our_shape(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    transitions = spec["paths"]["/api/v1/incidents/{incident_id}/transitions"]["post"]
    for status in ("400", "404", "409", "422"):
        schema = transitions["responses"][status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorOut"}
    assert "HTTPValidationError" not in spec["components"]["schemas"]


async def test_allow_names_every_method_of_the_path(client: httpx.AsyncClient) -> None:
    response = await client.request("OPTIONS", "/api/v1/silences")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"


async def test_times_in_queries_are_iso_8601_not_unix_seconds(client: httpx.AsyncClient) -> None:
    for path in ("/api/v1/events", "/api/v1/incidents", "/api/v1/stats"):
        numeric = await client.get(path, params={"since": "1700000000"})
        assert numeric.status_code == 422, path
        assert numeric.json()["error"]["field"] == "query.since"
        assert "ISO 8601" in numeric.json()["error"]["problem"]
        iso = await client.get(path, params={"since": "2026-11-21T10:00:00Z"})
        assert iso.status_code == 200, path
        for edge in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"):
            beyond = await client.get(path, params={"since": edge})  # no such UTC time
            assert beyond.status_code == 422, (path, edge)
            assert "out of range" in beyond.json()["error"]["problem"]
        earliest = await client.get(path, params={"since": "0001-01-01T00:00:00Z"})
        assert earliest.status_code == 200, path
