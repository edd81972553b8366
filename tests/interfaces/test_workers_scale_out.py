"""Two `vigil worker` processes on NATS JetStream and Postgres: 10,000 events, none lost,
none counted twice, and every event stored and correlated exactly once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.bus import bus_target
from tests.conftest import POSTGRES_URL, DbTarget, postgres_schema
from vigil.incidents.tables import incident_members
from vigil.pipeline.tables import events, receipts
from vigil.platform.db import Database
from vigil.testing.load import plan_alertmanager_load
from vigil.testing.scaleout import run_scale_out

pytestmark = [pytest.mark.services, pytest.mark.slow]

REQUESTS, PER_REQUEST = 1000, 10


async def _read(target: DbTarget) -> tuple[list[tuple[str, int]], list[str], list[str]]:
    db = Database(target.url, schema=target.schema)
    try:
        async with db.session() as session:
            query = sa.select(events.c.fingerprint, events.c.occurrences)
            rows = [(fp, n) for fp, n in (await session.execute(query)).all()]
            ids = list((await session.execute(sa.select(receipts.c.ingest_id))).scalars())
            query = sa.select(incident_members.c.event_id)
            members = list((await session.execute(query)).scalars())
    finally:
        await db.dispose()
    return rows, ids, members


def test_two_workers_lose_nothing_and_count_nothing_twice(tmp_path: Path) -> None:
    # Alerts that started ten minutes ago: valid for the real clock of the processes.
    start = datetime.now(UTC) - timedelta(minutes=10)
    plan = plan_alertmanager_load(REQUESTS, seed=5, start=start, per_request=PER_REQUEST)
    with postgres_schema() as schema, bus_target() as bus:
        target = DbTarget("postgres", POSTGRES_URL, schema)
        env = {**target.env(), **bus.env()}
        run = run_scale_out(plan, 2, env, tmp_path / "vigil.log", (target.url, schema))
        rows, ingest_ids, members = asyncio.run(_read(target))

    assert run.statuses == {202: REQUESTS}
    assert len(ingest_ids) == len(set(ingest_ids)) == REQUESTS * PER_REQUEST
    fingerprints = [fp for fp, _ in rows]
    assert len(fingerprints) == len(set(fingerprints)) == plan.distinct  # one row per alert
    assert set(fingerprints) == {fp for request in plan.fingerprints for fp in request}
    assert sum(n for _, n in rows) == REQUESTS * PER_REQUEST  # each occurrence counted once
    assert len(members) == len(set(members)) == plan.distinct  # each alert in one incident
