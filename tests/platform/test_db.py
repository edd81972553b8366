"""Database: URL mapping to async drivers, and UTC datetimes / JSON on both backends."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import StatementError

from tests.conftest import DbTarget
from vigil.platform.db import Database, JSONType, UTCDateTime, async_url


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("sqlite:///vigil.db", "sqlite+aiosqlite"),
        ("sqlite:////var/lib/vigil/vigil.db", "sqlite+aiosqlite"),
        ("postgresql://postgres@127.0.0.1:5432/test", "postgresql+asyncpg"),
        ("postgresql+psycopg2://u:p@db/vigil", "postgresql+asyncpg"),
    ],
)
def test_async_url_maps_to_asyncio_driver(url: str, driver: str) -> None:
    mapped = async_url(url)
    assert mapped.drivername == driver
    assert mapped.database == sa.make_url(url).database


def test_unsupported_url_is_refused_without_password() -> None:
    with pytest.raises(ValueError, match="unsupported database URL") as raised:
        async_url("mysql://vigil:s3cret@db/vigil")
    assert "s3cret" not in str(raised.value)


def test_display_url_hides_password() -> None:
    db = Database("postgresql://vigil:s3cret@db.example:5432/vigil")
    assert "s3cret" not in db.display_url
    assert "db.example" in db.display_url
    assert not db.is_sqlite


def test_sqlite_parent_directory_is_created(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "er" / "vigil.db"
    db = Database(f"sqlite:///{target}")
    assert db.is_sqlite
    assert target.parent.is_dir()


def _table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "probe",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", UTCDateTime),
        sa.Column("doc", JSONType),
    )


async def test_utc_datetimes_and_json_round_trip(database: DbTarget) -> None:
    db = Database(database.url, schema=database.schema)
    table = _table(sa.MetaData())
    berlin = timezone(timedelta(hours=2))
    stored = [
        datetime(2026, 11, 21, 14, 30, 15, 123456, tzinfo=berlin),
        datetime(2026, 11, 21, 12, 30, 16, tzinfo=UTC),
        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ]
    doc = {"labels": {"service": "checkout", "é": "ü"}, "n": [1, 2.5, None, True]}
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(table.metadata.create_all)
        async with db.writing() as session:
            await session.execute(
                table.insert(), [{"id": i, "at": at, "doc": doc} for i, at in enumerate(stored)]
            )
            await session.commit()
        async with db.session() as session:
            rows = (await session.execute(sa.select(table).order_by(table.c.id))).all()
            # Comparison in SQL follows the instant, whatever zone the value was given in.
            later = sa.select(table.c.id).where(
                table.c.at > datetime(2026, 11, 21, 12, 30, 15, 500000, tzinfo=UTC)
            )
            after = sorted((await session.execute(later)).scalars())
            ordered = list(
                (await session.execute(sa.select(table.c.id).order_by(table.c.at))).scalars()
            )
    finally:
        await db.dispose()
    for (_, at, got_doc), original in zip(rows, stored, strict=True):
        assert at == original
        assert at.tzinfo is not None
        assert at.utcoffset() == timedelta(0)
        assert got_doc == doc
    assert rows[0].at == datetime(2026, 11, 21, 12, 30, 15, 123456, tzinfo=UTC)
    assert after == [1]
    assert ordered == [2, 0, 1]


async def test_naive_datetime_is_refused(database: DbTarget) -> None:
    db = Database(database.url, schema=database.schema)
    table = _table(sa.MetaData())
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(table.metadata.create_all)
        async with db.session() as session:
            with pytest.raises(StatementError, match="naive datetime"):
                await session.execute(
                    table.insert().values(id=1, at=datetime(2026, 11, 21, 12, 0), doc={})
                )
    finally:
        await db.dispose()


async def test_session_rolls_back_when_the_block_raises(database: DbTarget) -> None:
    db = Database(database.url, schema=database.schema)
    table = _table(sa.MetaData())
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(table.metadata.create_all)

        async def insert_then_fail() -> None:
            async with db.writing() as session:
                await session.execute(table.insert().values(id=1, at=None, doc={}))
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            await insert_then_fail()
        async with db.session() as session:
            count = (await session.execute(sa.select(sa.func.count()).select_from(table))).one()
        await db.ping()
    finally:
        await db.dispose()
    assert count == (0,)


async def _insert_rows(db: Database, table: sa.Table, count: int) -> None:
    async with db.session() as session:
        rows = [{"id": i, "at": None, "doc": {}} for i in range(count)]
        await session.execute(table.insert(), rows)
        if not db.is_sqlite:
            # Backends report their table counters lazily; this commit reports them.
            await session.execute(sa.text("SELECT pg_stat_force_next_flush()"))
        await session.commit()


async def _grown(db: Database, min_changes: int) -> list[str]:
    """The counters reach the statistics system shortly after the commit: ask a few times."""
    for _ in range(1 if db.is_sqlite else 50):
        if grown := await db.grown_tables(min_changes=min_changes, growth=1.0):
            return grown
        await asyncio.sleep(0.1)
    return []


async def test_grown_tables_are_analysed_then_no_longer_grown(database: DbTarget) -> None:
    db = Database(database.url, schema=database.schema)
    table = _table(sa.MetaData())
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(table.metadata.create_all)
            if not db.is_sqlite:  # autovacuum must not get there first
                await conn.execute(sa.text("ALTER TABLE probe SET (autovacuum_enabled = off)"))
        await _insert_rows(db, table, 300)
        few = await db.grown_tables(min_changes=1000, growth=1.0)
        grown = await _grown(db, min_changes=100)
        await db.analyze(grown)
        after = await db.grown_tables(min_changes=100, growth=1.0)
        if not db.is_sqlite:
            async with db.session() as session:
                query = sa.text("SELECT reltuples FROM pg_class WHERE oid = CAST(:t AS regclass)")
                estimate = (await session.execute(query, {"t": table.name})).scalar_one()
    finally:
        await db.dispose()
    assert (few, after) == ([], [])
    # SQLite plans by its indexes without statistics: nothing to look after there.
    assert grown == ([] if database.backend == "sqlite" else [table.name])
    if database.backend == "postgres":
        assert estimate == 300


async def test_write_at_once_commits_or_rolls_back_as_one(database: DbTarget) -> None:
    """A SQLite file is written by a thread of its own; Postgres by the async engine."""
    await _write_at_once_round_trip(Database(database.url, schema=database.schema))


async def test_write_at_once_on_in_memory_sqlite() -> None:
    """An in-memory database cannot be shared with a thread's connection: async engine."""
    await _write_at_once_round_trip(Database("sqlite:///:memory:"))


async def _write_at_once_round_trip(db: Database) -> None:
    table = _table(sa.MetaData())
    at = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

    def insert(conn: sa.Connection) -> list[int]:
        conn.execute(
            table.insert(), [{"id": 1, "at": at, "doc": {"a": 1}}, {"id": 2, "at": at, "doc": {}}]
        )
        return list(conn.execute(sa.select(table.c.id).order_by(table.c.id)).scalars())

    def insert_then_fail(conn: sa.Connection) -> None:
        conn.execute(table.insert().values(id=3, at=at, doc={}))
        raise RuntimeError("boom")

    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(table.metadata.create_all)
        assert await db.write_at_once(insert) == [1, 2]
        with pytest.raises(RuntimeError, match="boom"):
            await db.write_at_once(insert_then_fail)
        # The async engine sees what the writer committed, converted by the column types.
        async with db.session() as session:
            rows = (await session.execute(sa.select(table).order_by(table.c.id))).all()
    finally:
        await db.dispose()
    assert [(r.id, r.at, r.doc) for r in rows] == [(1, at, {"a": 1}), (2, at, {})]
