"""Request dependencies: the tenant comes from `X-Vigil-Tenant`, else the default."""

from __future__ import annotations

import httpx

from tests.conftest import MakeClient, MakeRuntime
from tests.ingestion import ingest
from tests.payloads import REAL_ALERTMANAGER


async def test_tenant_header_scopes_every_read(
    make_runtime: MakeRuntime, make_client: MakeClient
) -> None:
    runtime = await make_runtime(default_tenant="main")
    client: httpx.AsyncClient = await make_client(runtime)
    await ingest(runtime, "alertmanager", REAL_ALERTMANAGER, tenant="main")
    await ingest(runtime, "alertmanager", REAL_ALERTMANAGER, tenant="acme")
    main = (await client.get("/api/v1/events")).json()["items"]
    acme = (await client.get("/api/v1/events", headers={"X-Vigil-Tenant": "acme"})).json()
    other = (await client.get("/api/v1/events", headers={"X-Vigil-Tenant": "globex"})).json()
    assert [e["tenant_id"] for e in main] == ["main"]
    assert [e["tenant_id"] for e in acme["items"]] == ["acme"]
    assert other["items"] == []
