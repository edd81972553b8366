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
