"""`vigil demo --exit`: serves on loopback, replays the storm over HTTP, prints a summary
whose figures agree with each other and with what the database holds."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from vigil.interfaces.cli import State, app
from vigil.pipeline.outbox import open_outbox
from vigil.pipeline.tables import dead_letters, events, intake, receipts
from vigil.platform.db import Database
from vigil.sources import load_sources
from vigil.testing.load import free_port
from vigil.wiring import build_runtime

ROW = re.compile(r"│\s*(\S[^│]*?)\s*│\s*(\d+)\s*│")


def summary(output: str) -> dict[str, int]:
    return {name: int(value) for name, value in ROW.findall(output)}


async def database_figures(path: Path) -> dict[str, int]:
    db = Database(f"sqlite:///{path}")
    outbox = open_outbox(f"sqlite:///{path}")
    assert outbox is not None
    sources = load_sources(plugins=[])
    try:
        async with db.session() as session:

            async def scalar(query: sa.Select[tuple[int]]) -> int:
                return int((await session.execute(query)).scalar_one())

            figures = {
                "events": await scalar(sa.select(sa.func.count()).select_from(events)),
                "occurrences": await scalar(sa.select(sa.func.sum(events.c.occurrences))),
                "receipts": await scalar(sa.select(sa.func.count()).select_from(receipts)),
                "dead_letters": await scalar(sa.select(sa.func.count()).select_from(dead_letters)),
            }
        async with outbox.session() as session:  # embedded, intake has a file of its own
            query = sa.select(sa.func.count()).select_from(intake).where(intake.c.state != "done")
            figures["pending"] = int((await session.execute(query)).scalar_one())
            rows = (await session.execute(sa.select(intake))).mappings().all()
    finally:
        await db.dispose()
        await outbox.dispose()
    figures["intake"] = len(rows)
    figures["alerts_accepted"] = sum(
        len(
            sources.get(row["source"]).parse(
                orjson.loads(row["body"]), received_at=row["received_at"], tenant_id="default"
            )
        )
        for row in rows
    )
    return figures


@pytest.mark.slow
def test_demo_replays_the_storm_and_reports_consistent_counts(tmp_path: Path) -> None:
    args = ["demo", "--exit", "--port", str(free_port()), "--data-dir", str(tmp_path)]
    result = CliRunner(env={"COLUMNS": "120"}).invoke(
        app, [*args, "--alerts", "120"], obj=State(factory=build_runtime)
    )
    assert result.exit_code == 0, result.output
    assert "Vigil is serving on http://127.0.0.1:" in result.output
    got = summary(result.output)

    sent = got["webhook requests sent"]
    accepted = got["accepted (202)"]
    redelivered_requests = got["redelivered, recognised (200)"]
    rejected = got["rejected (4xx, dead-lettered)"]
    assert sent == accepted + redelivered_requests + rejected
    assert rejected == got["dead letters"] == 3  # the storm's three malformed requests
    assert got["silenced (stored, muted)"] > 0
    assert got["folded into a stored event (dedup)"] > 0
    assert got["redelivered events not counted twice"] > 0

    db = asyncio.run(database_figures(tmp_path / "demo.db"))
    stored, folded = (
        got["events stored (distinct alerts)"],
        got["folded into a stored event (dedup)"],
    )
    assert db["intake"] == accepted
    assert db["pending"] == 0
    assert db["events"] == stored
    assert db["occurrences"] == db["receipts"] == stored + folded
    assert db["alerts_accepted"] == stored + folded + got["redelivered events not counted twice"]
    assert db["dead_letters"] == got["dead letters"]
