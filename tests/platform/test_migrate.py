"""Migrations: the same Alembic scripts bring SQLite and Postgres to head, idempotently."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.conftest import POSTGRES_URL, DbTarget, postgres_schema, run_postgres
from vigil.platform.db import Database
from vigil.platform.migrate import current_revision, head_revision, upgrade

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
