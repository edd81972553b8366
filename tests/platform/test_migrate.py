"""Migrations: the same Alembic scripts bring SQLite and Postgres to head, idempotently."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from tests.conftest import POSTGRES_URL, DbTarget, postgres_schema, run_postgres
from vigil.pipeline.tables import events
from vigil.platform import migrate
from vigil.platform.db import Database
from vigil.platform.migrate import current_revision, head_revision, upgrade

MIGRATIONS = Path(migrate.__file__).with_name("migrations")
TABLES = {"intake", "events", "receipts", "dead_letters", "silences"}


async def _tables(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        return set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))


async def test_upgrade_to_head_and_again(database: DbTarget) -> None:
    db = Database(database.url, schema=database.schema)
    try:
        assert await current_revision(db) is None
        await upgrade(db)
        assert await current_revision(db) == head_revision()
        assert await _tables(db) >= TABLES
        await upgrade(db)  # a second run (every start does it) changes nothing
        assert await current_revision(db) == head_revision()
    finally:
        await db.dispose()


@pytest.mark.services
async def test_upgrade_creates_a_named_postgres_schema() -> None:
    with postgres_schema() as existing:
        missing = f"{existing}_new"
        db = Database(POSTGRES_URL, schema=missing)
        try:
            await upgrade(db)
            assert await current_revision(db) == head_revision()
            assert await _tables(db) >= TABLES
        finally:
            await db.dispose()
            run_postgres(f'DROP SCHEMA IF EXISTS "{missing}" CASCADE')


async def test_intake_is_indexed_by_request_key(database: DbTarget) -> None:
    db = Database(database.url, schema=database.schema)
    try:
        await upgrade(db)
        async with db.engine.connect() as conn:
            indexes = await conn.run_sync(lambda c: sa.inspect(c).get_indexes("intake"))
    finally:
        await db.dispose()
    assert {"name": "ix_intake_request_key", "columns": ["request_key"]} in [
        {"name": i["name"], "columns": i["column_names"]} for i in indexes
    ]


@pytest.mark.services
async def test_postgres_tables_are_analysed_sooner_and_back_again() -> None:
    with postgres_schema() as schema:
        db = Database(POSTGRES_URL, schema=schema)
        query = sa.text(
            "SELECT c.relname, c.reloptions FROM pg_class AS c JOIN pg_namespace AS n "
            "ON n.oid = c.relnamespace WHERE n.nspname = :schema AND c.relkind = 'r'"
        )
        try:
            await upgrade(db)
            async with db.engine.connect() as conn:
                options = dict((await conn.execute(query, {"schema": schema})).all())
            await _downgrade(db, "0002")
            async with db.engine.connect() as conn:
                reset = dict((await conn.execute(query, {"schema": schema})).all())
        finally:
            await db.dispose()
    assert "autovacuum_analyze_scale_factor=0.02" in options["events"]
    assert "autovacuum_analyze_threshold=500" in options["receipts"]
    assert "autovacuum_vacuum_scale_factor=0.02" in options["intake"]
    assert reset["events"] is None


async def _downgrade(db: Database, revision: str) -> None:
    async with db.engine.begin() as conn:

        def run(sync_conn: sa.Connection) -> None:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = sync_conn
            command.downgrade(config, revision)

        await conn.run_sync(run)


async def test_receipts_taken_before_0010_learn_their_event_type(database: DbTarget) -> None:
    db = Database(database.url, schema=database.schema)
    at = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    event = {
        "id": "01E", "tenant_id": "t", "source": "generic", "event_type": "change",
        "fingerprint": "f", "ts": at, "received_at": at, "first_seen": at, "last_seen": at,
        "severity": "info", "status": "resolved", "priority": "P3", "title": "deploy",
        "description": "", "entity": {}, "labels": {}, "correlation_ids": {},
        "enrichment": {}, "raw": {}, "ingest_id": "i", "last_ingest_id": "i",
        "schema_version": 1, "occurrences": 1, "flaps": 0,
    }  # fmt: skip
    try:
        await upgrade(db, "0009")
        async with db.engine.begin() as conn:
            await conn.execute(events.insert().values(event))
            await conn.execute(
                sa.text(
                    "INSERT INTO receipts (tenant_id, ingest_id, event_id, received_at, status)"
                    " VALUES ('t', 'i', '01E', :at, 'resolved')"
                ),
                {"at": at},
            )
        await upgrade(db)
        async with db.engine.connect() as conn:
            kinds = (await conn.execute(sa.text("SELECT event_type FROM receipts"))).all()
    finally:
        await db.dispose()
    assert kinds == [("change",)]
