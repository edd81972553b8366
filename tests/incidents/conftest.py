"""Incident fixtures: a runtime with a service catalogue, and readers of its incidents."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.ingestion import ingest
from tests.payloads import am_alert, am_body
from vigil.incidents.read import IncidentDetail, IncidentSummary, incident_detail, list_summaries
from vigil.incidents.repository import IncidentQuery
from vigil.interfaces.runtime import Runtime
from vigil.testing.clock import FakeClock

CATALOG = """\
services:
  - {name: frontend, tier: 1, dependencies: [checkout]}
  - {name: checkout, tier: 1, dependencies: [payments, cart]}
  - {name: payments, tier: 2, dependencies: [postgres-main]}
  - {name: cart, tier: 2, dependencies: [redis]}
  - {name: postgres-main, tier: 1}
  - {name: redis, tier: 2}
  - {name: search, tier: 3}
"""


@pytest.fixture
def catalog_path(tmp_path: Path) -> Path:
    path = tmp_path / "catalog.yaml"
    path.write_text(CATALOG)
    return path


@pytest.fixture
async def runtime(make_runtime: Any, catalog_path: Path) -> Runtime:
    runtime: Runtime = await make_runtime(catalog_path=catalog_path)
    return runtime


async def fire(
    runtime: Runtime,
    alertname: str,
    service: str,
    at: datetime,
    *,
    status: str = "firing",
    group_key: str | None = None,
    **labels: str,
) -> None:
    """One Alertmanager notification for one alert, processed to the end (the fake clock
    moves to the alert's time, as if it arrived then)."""
    if isinstance(runtime.clock, FakeClock) and at > runtime.clock.now():
        runtime.clock.set(at)
    alert = am_alert(
        {"alertname": alertname, "service": service, "severity": "critical", **labels},
        at,
        status=status,
        ends=at + timedelta(seconds=1) if status == "resolved" else None,
    )
    key = group_key or f'{{}}:{{alertname="{alertname}", service="{service}"}}'
    await ingest(runtime, "alertmanager", am_body(alert, group_key=key))


async def incidents(runtime: Runtime, **filters: Any) -> list[IncidentSummary]:
    async with runtime.db.session() as session:
        return await list_summaries(session, IncidentQuery(tenant_id="default", **filters))


async def detail(runtime: Runtime, incident_id: str) -> IncidentDetail:
    async with runtime.db.session() as session:
        found = await incident_detail(session, "default", incident_id)
    assert found is not None
    return found


async def only_incident(runtime: Runtime) -> IncidentDetail:
    found = await incidents(runtime)
    assert len(found) == 1, [(i.title, i.services) for i in found]
    return await detail(runtime, found[0].id)
