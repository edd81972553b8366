"""The crash check: SIGKILL `vigil serve` in the middle of a load, restart it on the same
database, and every request acknowledged with 2xx is stored, exactly once."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa

from tests.conftest import DbTarget
from tests.ingestion import metric_value
from vigil.pipeline.intake import request_key
from vigil.pipeline.outbox import open_outbox
from vigil.pipeline.tables import dead_letters, events, intake, receipts
from vigil.platform.db import Database
from vigil.sources.alertmanager import AlertmanagerSource
from vigil.testing.load import LoadResult, ServerProcess, plan_alertmanager_load, run_load

pytestmark = pytest.mark.slow

REQUESTS = 1200
PER_REQUEST = 10
PATH = "/api/v1/webhooks/alertmanager"


def scrape(server: ServerProcess, name: str) -> float:
    response = httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=5)
    return metric_value(response.text, name)


def wait_until(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


def load_in_background(
    server: ServerProcess, bodies: list[bytes]
) -> tuple[threading.Thread, list[LoadResult]]:
    out: list[LoadResult] = []

    def run() -> None:
        out.append(run_load("127.0.0.1", server.port, PATH, bodies, concurrency=16))

    thread = threading.Thread(target=run, name="crash-load")
    thread.start()
    return thread, out


@dataclass(frozen=True)
class Stored:
    """What the database holds once the restarted server has drained its backlog."""

    intake_states: dict[str, str]  # request key -> state
    receipts: list[str]  # ingest ids
    fingerprints: list[str]  # one per event row
    occurrences: int  # summed over event rows
    dead_letters: int


async def read_back(database: DbTarget) -> Stored:
    db = Database(database.url, schema=database.schema)
    outbox = open_outbox(database.url) or db  # embedded, intake has a file of its own
    try:
        async with outbox.session() as session:
            query = sa.select(intake.c.request_key, intake.c.state)
            intake_rows = list((await session.execute(query)).all())
        async with db.session() as session:

            async def rows(*columns: sa.ColumnElement[Any]) -> list[sa.Row[Any]]:
                return list((await session.execute(sa.select(*columns))).all())

            receipt_rows = await rows(receipts.c.ingest_id)
            event_rows = await rows(events.c.fingerprint, events.c.occurrences)
            letters = await rows(sa.func.count(dead_letters.c.id))
    finally:
        await db.dispose()
        if outbox is not db:
            await outbox.dispose()
    return Stored(
        intake_states={row.request_key: row.state for row in intake_rows},
        receipts=[row.ingest_id for row in receipt_rows],
        fingerprints=[row.fingerprint for row in event_rows],
        occurrences=sum(row.occurrences for row in event_rows),
        dead_letters=letters[0][0],
    )


def test_acknowledged_requests_survive_sigkill(database: DbTarget, tmp_path: Path) -> None:
    # Alerts that started ten minutes ago: valid for the real clock of the server.
    plan = plan_alertmanager_load(
        REQUESTS, seed=2, start=datetime.now(UTC) - timedelta(minutes=10), per_request=PER_REQUEST
    )
    log = tmp_path / "server.log"
    server = ServerProcess(database.env(), log=log)
    server.start()
    try:
        thread, out = load_in_background(server, plan.bodies)
        wait_until(
            lambda: (
                not thread.is_alive()
                or scrape(server, "vigil_webhooks_received_total") >= REQUESTS // 4
            ),
            "a quarter of the load to arrive",
        )
        server.kill()
        thread.join(timeout=60)
    finally:
        server.stop()
    (load,) = out
    acked = set(load.acked)
    assert 0 < len(acked) < REQUESTS, "the kill must land in the middle of the load"

    restarted = ServerProcess(database.env(), log=log)
    restarted.start()
    try:
        wait_until(lambda: scrape(restarted, "vigil_intake_backlog") == 0, "the backlog to drain")
    finally:
        restarted.stop()

    found = asyncio.run(read_back(database))
    assert set(found.intake_states.values()) == {"done"}
    by_key = {request_key(body): i for i, body in enumerate(plan.bodies)}
    stored_requests = {by_key[key] for key in found.intake_states}
    # Every acknowledged request is stored (some unacknowledged ones may be too).
    assert acked <= stored_requests

    assert len(found.receipts) == len(set(found.receipts))
    # Every alert of every stored request went through the pipeline exactly once.
    assert len(found.receipts) == PER_REQUEST * len(stored_requests)
    parser = AlertmanagerSource()
    received = datetime.now(UTC)
    acked_ids = {
        event.ingest_id
        for i in acked
        for event in parser.parse(
            orjson.loads(plan.bodies[i]), received_at=received, tenant_id="default"
        )
    }
    assert acked_ids <= set(found.receipts)

    assert len(found.fingerprints) == len(set(found.fingerprints))  # one row per alert
    assert set(found.fingerprints) == {fp for i in stored_requests for fp in plan.fingerprints[i]}
    assert found.occurrences == len(found.receipts)  # each receipt counted once
    assert found.dead_letters == 0
