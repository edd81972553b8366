"""Two `vigil worker` processes on NATS JetStream and Postgres: 10,000 events, none lost,
none counted twice, every event correlated exactly once, and the same incidents as one
worker builds from the same stream."""

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
from vigil.testing.load import StormPlan, plan_alertmanager_load
from vigil.testing.scaleout import ScaleOutRun, run_scale_out

pytestmark = [pytest.mark.services, pytest.mark.slow]

REQUESTS, PER_REQUEST = 1000, 10
# Each request one Alertmanager group; 40 services, so a service alerts every ~5 min.
SPACING = timedelta(seconds=0.75)


class Stored:
    """What a run left in the database."""

    def __init__(self, rows: list[tuple[str, int]], ingest_ids: list[str]) -> None:
        self.rows, self.ingest_ids = rows, ingest_ids
        self.members: list[str] = []
        self.incidents: set[frozenset[str]] = set()  # each incident as its fingerprints


async def _read(target: DbTarget) -> Stored:
    db = Database(target.url, schema=target.schema)
    try:
        async with db.session() as session:
            query = sa.select(events.c.fingerprint, events.c.occurrences)
            rows = [(fp, n) for fp, n in (await session.execute(query)).all()]
            ids = list((await session.execute(sa.select(receipts.c.ingest_id))).scalars())
            stored = Stored(rows, ids)
            query = sa.select(incident_members.c.incident_id, events.c.fingerprint).join(
                events, events.c.id == incident_members.c.event_id
            )
            by_incident: dict[str, set[str]] = {}
            for incident_id, fingerprint in (await session.execute(query)).all():
                stored.members.append(fingerprint)
                by_incident.setdefault(incident_id, set()).add(fingerprint)
            stored.incidents = {frozenset(fps) for fps in by_incident.values()}
    finally:
        await db.dispose()
    return stored


def _run(plan: StormPlan, workers: int, log: Path) -> tuple[ScaleOutRun, Stored]:
    with postgres_schema() as schema, bus_target() as bus:
        target = DbTarget("postgres", POSTGRES_URL, schema)
        env = {**target.env(), **bus.env()}
        # One connection: the edge publishes in the plan's order in both runs.
        run = run_scale_out(plan, workers, env, log, (target.url, schema), concurrency=1)
        return run, asyncio.run(_read(target))


def test_two_workers_lose_nothing_count_nothing_twice_and_build_the_same_incidents(
    tmp_path: Path,
) -> None:
    # Alerts spread over the last ~2 hours (valid for the real clock of the processes), so
    # that they make many incidents, not one.
    start = datetime.now(UTC) - REQUESTS * PER_REQUEST * SPACING - timedelta(minutes=5)
    plan = plan_alertmanager_load(
        REQUESTS, seed=5, start=start, per_request=PER_REQUEST, spacing=SPACING, grouped=True
    )
    _, single = _run(plan, 1, tmp_path / "one.log")
    run, stored = _run(plan, 2, tmp_path / "two.log")

    assert run.statuses == {202: REQUESTS}
    assert len(stored.ingest_ids) == len(set(stored.ingest_ids)) == REQUESTS * PER_REQUEST
    fingerprints = [fp for fp, _ in stored.rows]
    assert len(fingerprints) == len(set(fingerprints)) == plan.distinct  # one row per alert
    assert set(fingerprints) == {fp for request in plan.fingerprints for fp in request}
    assert sum(n for _, n in stored.rows) == REQUESTS * PER_REQUEST  # each counted once
    assert len(stored.members) == len(set(stored.members)) == plan.distinct  # one incident each

    assert len(single.incidents) > 10
    assert stored.incidents == single.incidents
    assert sorted(stored.rows) == sorted(single.rows)
