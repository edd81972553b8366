"""Retention: what was taken in is deleted once the settings let it go, so that a busy
server's disk does not fill with old request bodies (`RetentionSettings`).

* processed intake requests (their raw bodies) after ``intake_days``; pending ones stay;
* dead letters after ``dead_letter_days``, replayed or not.

Rows go by their id, a ULID made when the row was (`vigil.platform.ids.id_floor`): a range
of the primary key, no scan. Deletes run in batches of `BATCH`, each its own short
transaction with a pause after it, so that webhooks never wait long behind one (SQLite has
one writer at a time); SQLite's write-ahead log is copied on after each batch and
truncated after each round when no reader is in the way, or the space freed would stay
taken twice. The processor runs a
round when one is due, between its batches too, so a backlog does not hold retention off.
Events, incidents and receipts are kept: they are history, and the statistics count them.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from vigil.pipeline.tables import dead_letters, intake
from vigil.platform.db import Database
from vigil.platform.ids import id_floor
from vigil.platform.settings import RetentionSettings

__all__ = ["Janitor", "Tidied"]

log = logging.getLogger(__name__)

BATCH = 500  # rows a delete takes at most
PAUSE = 0.05  # seconds between deletes: a webhook waiting for SQLite's lock gets it
ROUND_BATCHES = 20  # batches a round deletes at most (about a second and a half)


@dataclass(frozen=True, slots=True)
class Tidied:
    """Rows deleted by one round."""

    intake: int = 0
    dead_letters: int = 0


class Janitor:
    """Deletes what the retention settings let go; `tidy` is cheap to call often (it acts
    once every `every_seconds`)."""

    def __init__(self, db: Database, outbox: Database, settings: RetentionSettings) -> None:
        self._db, self._outbox, self._settings = db, outbox, settings
        self._last: datetime | None = None

    def due(self, now: datetime) -> bool:
        every = timedelta(seconds=self._settings.every_seconds)
        return self._last is None or now - self._last >= every

    async def tidy(self, now: datetime, *, force: bool = False) -> Tidied:
        """One round, if one is due (or ``force``). A round deletes at most
        `ROUND_BATCHES` batches; one cut short leaves the next one due at once, so that a
        large first purge comes in short rounds between processing batches and shutdown
        never waits for it."""
        if not (force or self.due(now)):
            return Tidied()
        self._last = now
        settings, budget = self._settings, _Budget(ROUND_BATCHES)
        requests = await self._expire(self._outbox, intake, settings.intake_days, now, budget)
        if self._outbox is not self._db:  # an older version kept intake in the main file
            requests += await self._expire(self._db, intake, settings.intake_days, now, budget)
        letters = await self._expire(self._db, dead_letters, settings.dead_letter_days, now, budget)
        if budget.left <= 0:
            self._last = None  # more to delete: the next round is due at once
        # Give the log's space back (tried each round: a reader in the way means next time).
        for db in {id(self._outbox): self._outbox, id(self._db): self._db}.values():
            await db.checkpoint(truncate=True)
        done = Tidied(intake=requests, dead_letters=letters)
        if done.intake or done.dead_letters:
            log.info(
                "retention: deleted %d processed request(s) and %d dead letter(s)",
                done.intake, done.dead_letters,
            )  # fmt: skip
        return done

    async def _expire(
        self, db: Database, table: sa.Table, days: float | None, now: datetime, budget: _Budget
    ) -> int:
        if days is None:
            return 0
        floor = id_floor(now - timedelta(days=days))
        old: list[sa.ColumnElement[bool]] = [table.c.id < floor]
        if table is intake:
            # Also in the delete itself: Postgres works the subquery out once, and a replay
            # may set a row pending again meanwhile.
            old.append(intake.c.state != "pending")
        batch = sa.select(table.c.id).where(*old).order_by(table.c.id).limit(BATCH)
        delete = table.delete().where(table.c.id.in_(batch.scalar_subquery()), *old)
        total = 0
        while budget.left > 0:
            budget.left -= 1
            async with db.writing() as session:
                deleted = await session.execute(delete)
                await session.commit()
            count: int = deleted.rowcount or 0  # type: ignore[attr-defined]
            total += count
            if count == 0:
                break
            # The pages freed go through SQLite's write-ahead log: copy them on as they
            # come (this waits for no one), so that the log does not grow by all of them.
            await db.checkpoint()
            if count < BATCH:
                break
            await asyncio.sleep(PAUSE)
        return total


@dataclass
class _Budget:
    left: int  # batches a round may still delete
