"""Database engine, shared metadata and column types; SQLite by default, Postgres by URL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import URL, Dialect, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

__all__ = [
    "Database",
    "JSONType",
    "UTCDateTime",
    "async_url",
    "check_storable",
    "is_transient",
    "metadata",
    "sqlite_file",
]

T = TypeVar("T")

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend.

    Postgres keeps `timestamptz`. SQLite has no datetime type: values are stored as
    fixed-width UTC text (`YYYY-MM-DD HH:MM:SS.ffffff`, the layout SQLAlchemy uses), which
    sorts and compares correctly as text and converts in C both ways.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(32))
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class DatabaseURLError(sa_exc.ArgumentError, ValueError):
    """A database URL Vigil has no driver for."""


def async_url(url: str) -> URL:
    """Map a plain URL (`sqlite:///x.db`, `postgresql://...`) to its asyncio driver."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+asyncpg")
    shown = parsed.render_as_string(hide_password=True)
    raise DatabaseURLError(f"unsupported database URL {shown} (sqlite:/// or postgresql://)")


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


_BUSY_MS = 10_000  # how long a SQLite statement waits for another's lock
_NO_WAIT = 0


def _sqlite_pragmas(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
    # WAL lets readers run beside the writer; synchronous=NORMAL keeps every commit
    # safe against a process crash (SIGKILL), which is what a 2xx promises.
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={_BUSY_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
    # Let SQLAlchemy's "begin" hook issue BEGIN itself (the driver's own is deferred and
    # cannot be made IMMEDIATE).
    dbapi_conn.isolation_level = None


def _no_autocheckpoint(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
    # A commit that fills the log past 1000 pages copies it back into the database file
    # and syncs it, inside that commit. A connection that answers webhooks leaves that to
    # `Database.checkpoint`, called off the request path.
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


_IMMEDIATE = "vigil_sqlite_immediate"


def _sqlite_begin(conn: sa.Connection) -> None:
    # A writer takes SQLite's write lock at BEGIN, so what it reads inside the transaction
    # (pending intake, stored events) cannot change under it, even from another process.
    immediate = conn.get_execution_options().get(_IMMEDIATE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


# Tables of the current schema changed by a large share since their last ANALYZE
# (`reltuples` is -1 before the first one).
_GROWN = sa.text(
    "SELECT s.relname FROM pg_stat_user_tables AS s JOIN pg_class AS c ON c.oid = s.relid "
    "WHERE s.schemaname = current_schema() AND s.n_mod_since_analyze >= "
    "greatest(CAST(:min_changes AS bigint), CAST(:growth AS float8) * greatest(c.reltuples, 0)) "
    "ORDER BY s.relname"
)


# Postgres conditions that pass when tried again: serialization failure, deadlock, lock
# not available (a lock timeout).
_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03"})


def check_storable(value: object) -> None:
    """Raise `ValueError` when text in `value` (a string, or JSON-shaped lists and dicts of
    them) is text no database column holds: a NUL character (Postgres refuses it) or a
    lone surrogate, which JSON escapes can name but UTF-8 cannot encode. Iterative, so no
    nesting depth makes it fail otherwise."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise ValueError("text must not contain NUL characters (\\u0000)")
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("text must be UTF-8 (no lone surrogates)") from None
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)


def is_transient(exc: BaseException) -> bool:
    """Whether a failure may pass when the same work is tried again (the database or its
    connection, not the data): worth a retry, never a dead letter."""
    transient = OperationalError | TimeoutError | sa_exc.TimeoutError | OSError | ConnectionError
    if isinstance(exc, transient):
        return True  # sa_exc.TimeoutError: no pooled connection came free in time
    if not isinstance(exc, DBAPIError):
        return False
    state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return exc.connection_invalidated or state in _TRANSIENT_SQLSTATES


def sqlite_file(url: str | URL) -> bool:
    """Whether ``url`` is a SQLite database in a file (not in memory)."""
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:")


def _sqlite_hooks(engine: sa.Engine, autocheckpoint: bool) -> None:
    """Pragmas on connect, IMMEDIATE transactions on request, the autocheckpoint choice."""
    event.listen(engine, "connect", _sqlite_pragmas)
    if not autocheckpoint:
        event.listen(engine, "connect", _no_autocheckpoint)
    event.listen(engine, "begin", _sqlite_begin)


class Database:
    """Owns the async engine; `session()` opens one unit of work (the caller commits)."""

    def __init__(self, url: str, *, schema: str | None = None, autocheckpoint: bool = True) -> None:
        self.plain_url = make_url(url)
        self.url = async_url(url)
        self.schema = schema
        kwargs: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}
        if sqlite_file(self.url):
            Path(str(self.url.database)).expanduser().parent.mkdir(parents=True, exist_ok=True)
        elif schema:
            kwargs["connect_args"] = {"server_settings": {"search_path": schema}}
            kwargs["pool_size"] = 10
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            _sqlite_hooks(self.engine.sync_engine, autocheckpoint)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time; waiting on its busy handler (which sleeps in
        # coarse steps) costs far more than queueing writers here, in the process.
        self._write_lock = asyncio.Lock()
        self._autocheckpoint = autocheckpoint
        self._thread: ThreadPoolExecutor | None = None
        self._sync_engine: sa.Engine | None = None

    async def write_at_once(self, work: Callable[[sa.Connection], T]) -> T:
        """Run `work` in one write transaction and commit it (rolled back if it raises).

        A SQLite file is written by a thread of its own, through the standard driver: the
        whole transaction is one hand-over to that thread. The async driver hands every
        statement, BEGIN, COMMIT and cursor call to its thread separately (sixteen for a
        `SELECT 1` on a pooled connection, 3-4 ms a commit) and each hand-over waits for a
        busy core. Elsewhere (Postgres, in-memory SQLite) `work` runs on the async engine.
        """
        if not self._threaded:
            async with self.writing() as session:
                result = await session.run_sync(lambda sync: work(sync.connection()))
                await session.commit()
                return result
        async with self._write_lock:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._writer_thread(), self._write_sync, work)

    @property
    def _threaded(self) -> bool:
        return sqlite_file(self.url)

    def _writer_thread(self) -> ThreadPoolExecutor:
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="vigil-sqlite-writer")
        return self._thread

    def _write_sync(self, work: Callable[[sa.Connection], T]) -> T:
        if self._sync_engine is None:  # created on, and only ever used by, the writer thread
            engine = sa.create_engine(
                self.plain_url.set(drivername="sqlite+pysqlite"),
                json_serializer=_json_dumps,
                json_deserializer=orjson.loads,
            )
            _sqlite_hooks(engine, self._autocheckpoint)
            self._sync_engine = engine
        with self._sync_engine.connect() as conn:
            conn = conn.execution_options(**{_IMMEDIATE: True})
            with conn.begin():
                return work(conn)

    async def checkpoint(self, *, truncate: bool = False) -> None:
        """SQLite: copy the write-ahead log into the database file (PASSIVE: it never
        waits for, nor blocks, readers and writers). With ``truncate`` (after a large
        delete), also give the log's disk space back, but only if no reader is in the
        way right now: truncating waits for readers while it holds writers off, so it is
        tried once, not waited for. Others: nothing."""
        if not self.is_sqlite:
            return
        async with self.engine.connect() as conn:
            await conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            if truncate:
                await conn.exec_driver_sql(f"PRAGMA busy_timeout={_NO_WAIT}")
                try:
                    await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                finally:
                    await conn.exec_driver_sql(f"PRAGMA busy_timeout={_BUSY_MS}")

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def display_url(self) -> str:
        return self.plain_url.render_as_string(hide_password=True)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session; rolled back if the block raises, closed always. Callers commit."""
        async with self._sessions() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncSession]:
        """A session for a write transaction. On SQLite, writers of this process queue here
        and the transaction begins IMMEDIATE (holding the write lock from its first read)."""
        if not self.is_sqlite:
            async with self.session() as session:
                yield session
            return
        async with self._write_lock, self.session() as session:
            await session.connection(execution_options={_IMMEDIATE: True})
            yield session

    async def grown_tables(self, *, min_changes: int, growth: float) -> list[str]:
        """Postgres: the tables of this schema changed (inserted, updated, deleted) by at
        least `growth` of their size at their last analysis, and by `min_changes` rows.
        Autovacuum analyses a new table only on its next round (a minute apart by
        default); until then the planner has no statistics and may scan instead of using
        an index. SQLite plans these lookups by its indexes without statistics: []."""
        if self.is_sqlite:
            return []
        async with self.engine.connect() as conn:
            rows = await conn.execute(_GROWN, {"min_changes": min_changes, "growth": growth})
            return [str(name) for name in rows.scalars()]

    async def analyze(self, tables: list[str]) -> None:
        """ANALYZE these tables (Postgres), on a connection of its own, outside any unit of
        work: it does not block writers, and a failure is the caller's to log."""
        if self.is_sqlite or not tables:
            return
        async with self.engine.connect() as conn:
            quote = conn.dialect.identifier_preparer.quote
            await conn.execute(sa.text("ANALYZE " + ", ".join(quote(t) for t in tables)))
            await conn.commit()

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._thread is not None:
            engine = self._sync_engine
            if engine is not None:
                await asyncio.get_running_loop().run_in_executor(self._thread, engine.dispose)
            self._thread.shutdown()
            self._thread, self._sync_engine = None, None
