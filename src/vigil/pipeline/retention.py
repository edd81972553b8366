"""Retention: what was taken in is deleted once the settings let it go, so that a busy
server's disk does not fill with old request bodies (`RetentionSettings`).

* processed intake requests (their raw bodies) after ``intake_days``; pending ones stay;
* dead letters after ``dead_letter_days``, replayed or not.

Rows go by their id, a ULID made when the row was (`vigil.platform.ids.id_floor`): a range
of the primary key, no scan. Deletes run in batches, each its own short transaction, so
that webhooks and processing never wait long behind one. Events, incidents and receipts
are kept: they are history, and the statistics count them.
"""

from __future__ import annotations

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

BATCH = 2000  # rows a delete takes at most


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

    async def tidy(self, now: datetime, *, force: bool = False) -> Tidied:
        """One round, if one is due (or ``force``)."""
        every = timedelta(seconds=self._settings.every_seconds)
        if not force and self._last is not None and now - self._last < every:
            return Tidied()
        self._last = now
        done = Tidied(
            intake=await self._expire(self._outbox, intake, self._settings.intake_days, now),
            dead_letters=await self._expire(
                self._db, dead_letters, self._settings.dead_letter_days, now
            ),
        )
        if done.intake or done.dead_letters:
            log.info(
                "retention: deleted %d processed request(s) and %d dead letter(s)",
                done.intake, done.dead_letters,
            )  # fmt: skip
        return done

    async def _expire(
        self, db: Database, table: sa.Table, days: float | None, now: datetime
    ) -> int:
        if days is None:
            return 0
        floor = id_floor(now - timedelta(days=days))
        old = sa.select(table.c.id).where(table.c.id < floor)
        if table is intake:
            old = old.where(intake.c.state != "pending")
        batch = old.order_by(table.c.id).limit(BATCH).scalar_subquery()
        total = 0
        while True:
            async with db.writing() as session:
                deleted = await session.execute(table.delete().where(table.c.id.in_(batch)))
                await session.commit()
            count: int = deleted.rowcount or 0  # type: ignore[attr-defined]
            total += count
            if count < BATCH:
                return total
