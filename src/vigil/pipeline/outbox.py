"""The intake outbox's own SQLite file, so that accepting a webhook never waits for
processing.

SQLite has one writer per database file. With intake in the main file, every webhook's
group commit queued behind the processor's transaction (a batch of dedup, store and
correlation), so time to 2xx was the length of a batch. Embedded, intake therefore lives
in a file of its own beside the main one (`vigil.db` -> `vigil-intake.db`): the edge
writes it, the processor reads it and marks what it processed there after committing the
results to the main file. The two commits are not atomic together; a crash between them
leaves requests pending that are already processed, and processing them again stores
nothing twice (each event's ingest id is a receipt in the main file). On Postgres, and
with a bus, intake stays in the main database and one transaction does both.

Only one processor works on an outbox at a time (`ProcessingLock`): `vigil serve`'s
processing child, and a `vigil dlq replay` or an API replay beside it, would otherwise read
the same pending requests and process them twice (a failing one dead-lettered twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from pathlib import Path
from types import TracebackType

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url

from vigil.pipeline.tables import intake
from vigil.platform.db import Database, sqlite_file

__all__ = ["ProcessingLock", "open_outbox", "outbox_url", "prepare_outbox"]


def outbox_url(database_url: str) -> str | None:
    """The outbox file beside a SQLite database file; None for other databases (and an
    in-memory SQLite, which cannot be shared)."""
    if not sqlite_file(database_url):
        return None
    url = make_url(database_url)
    path = Path(str(url.database))
    return url.set(
        database=str(path.with_name(f"{path.stem}-intake{path.suffix}"))
    ).render_as_string(hide_password=False)


def open_outbox(database_url: str, *, autocheckpoint: bool = True) -> Database | None:
    """The outbox file's database beside `database_url`, or None when intake lives in the
    database itself (Postgres, in-memory SQLite)."""
    url = outbox_url(database_url)
    return Database(url, autocheckpoint=autocheckpoint) if url else None


async def prepare_outbox(outbox: Database, main: Database, *, move: bool = True) -> int:
    """Create the outbox's table and, with `move` (the main file is migrated), move
    requests an earlier version left pending in the main file into it (returns how many),
    so none is forgotten."""
    async with outbox.engine.begin() as conn:
        await conn.run_sync(lambda sync: intake.create(sync, checkfirst=True))
    if not move:
        return 0
    async with main.writing() as session:
        rows = [dict(r) for r in (await session.execute(
            sa.select(intake).where(intake.c.state == "pending"))).mappings()]  # fmt: skip
        if not rows:
            return 0
        async with outbox.writing() as target:
            insert = sqlite_insert(intake).on_conflict_do_nothing()
            await target.execute(insert, rows)
            await target.commit()
        await session.execute(intake.delete().where(intake.c.id.in_([r["id"] for r in rows])))
        await session.commit()
    return len(rows)


class ProcessingLock:
    """Held while processing a batch from an outbox file: excludes other coroutines of this
    process (an asyncio lock) and other processes (an advisory `flock` on a file beside the
    outbox, released by the kernel if the holder dies)."""

    def __init__(self, outbox: Database) -> None:
        database = outbox.plain_url.database
        assert database, "an outbox is a SQLite file"
        self.path = Path(f"{database}.lock")
        self._here = asyncio.Lock()
        self._fd: int | None = None

    async def __aenter__(self) -> None:
        await self._here.acquire()
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # another process is processing: wait off the loop
                await _shielded_flock(self._fd)
        except BaseException:
            self._here.release()
            raise

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._fd is not None
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._here.release()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


async def _shielded_flock(fd: int) -> None:
    """A blocking `flock` on a thread. If the waiter is cancelled, the lock the thread
    still gets is let go at once rather than held forever."""
    waiting = asyncio.ensure_future(asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX))
    try:
        await asyncio.shield(waiting)
    except asyncio.CancelledError:

        def let_go(done: asyncio.Future[None]) -> None:
            if not done.cancelled() and done.exception() is None:
                with contextlib.suppress(OSError):
                    fcntl.flock(fd, fcntl.LOCK_UN)

        waiting.add_done_callback(let_go)
        raise
