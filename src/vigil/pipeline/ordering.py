"""Processing in the broker's order when several workers consume the bus.

Workers store what they take from the stream in parallel, but the stateful stages (dedup,
correlation) must see requests in one order, or two workers would fold repeats and build
incidents differently from one. JetStream numbers every message of a stream (the stream
sequence: the same on every redelivery, none for a publish it dropped as a duplicate), so
each worker records the sequence of every request it stored, and processing takes the
contiguous run after the stream's cursor, in sequence order, holding the cursor row's
lock: one processor at a time, whichever worker gets there first; the others only store
(the holder drains what they recorded before it lets go).

A gap in the run is a message another worker is still storing, or one that a dead worker
took and the broker will redeliver once its ack wait expires; processing waits for it.
A gap still open after `gap` (longer than the ack wait) is given up: the message left
the stream unprocessed (limits, a purge). That is logged, and a sequence that does turn up
later is still processed, out of order, rather than lost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from vigil.pipeline.tables import bus_cursor, bus_sequence
from vigil.platform.clock import Clock

__all__ = ["StreamClaim", "StreamOrder"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StreamClaim:
    """What one processing turn takes: intake ids in stream order (a request recorded
    twice appears once), how many sequences that covers, and the cursor after it."""

    intake_ids: list[str]
    sequences: int
    cursor: int
    through: int
    given_up: int = 0


class StreamOrder:
    """The order of one stream: `record` on the consuming side, `claim`/`advance` in a
    processing transaction."""

    def __init__(self, stream: str, clock: Clock, *, gap: timedelta) -> None:
        self.stream, self._clock, self._gap = stream, clock, gap

    async def record(self, session: AsyncSession, stored: list[tuple[int, str | None]]) -> None:
        """Remember the stream sequence of each stored request (None: unreadable); a
        redelivered message's sequence is already there and left alone. No commit."""
        if not stored:
            return
        now = self._clock.now()
        rows = [
            {"stream": self.stream, "seq": seq, "intake_id": intake_id, "stored_at": now}
            for seq, intake_id in stored
        ]
        insert = sqlite_insert if _is_sqlite(session) else postgresql_insert
        await session.execute(insert(bus_sequence).on_conflict_do_nothing(), rows)

    async def claim(self, session: AsyncSession, limit: int) -> StreamClaim | None:
        """Lock the cursor and take up to `limit` recorded sequences: late ones below the
        cursor, then the contiguous run after it (across a gap only once it is too old).
        None when another processor holds the cursor: it goes on to what is recorded."""
        cursor = await self._lock_cursor(session)
        if cursor is None:
            return None
        query = (
            sa.select(bus_sequence.c.seq, bus_sequence.c.intake_id, bus_sequence.c.stored_at)
            .where(bus_sequence.c.stream == self.stream)
            .order_by(bus_sequence.c.seq)
            .limit(limit)
        )
        now = self._clock.now()
        ids: dict[str, None] = {}
        through, taken, given_up = cursor, 0, 0
        for seq, intake_id, stored_at in (await session.execute(query)).all():
            if seq > through + 1:
                if now - stored_at < self._gap:
                    break  # still being stored elsewhere: wait for it
                missing = seq - through - 1
                log.warning(
                    "stream %s: gave up waiting for %d message(s) after sequence %d "
                    "(missing for over %s); processing continues from %d",
                    self.stream, missing, through, self._gap, seq,
                )  # fmt: skip
                given_up += missing
            through = max(through, seq)
            taken += 1
            if intake_id is not None:
                ids.setdefault(intake_id)
        return StreamClaim(list(ids), taken, cursor, through, given_up)

    async def advance(self, session: AsyncSession, claim: StreamClaim) -> None:
        """Move the cursor past `claim` and forget its sequences. No commit."""
        if claim.through > claim.cursor:
            await session.execute(
                bus_cursor.update()
                .where(bus_cursor.c.stream == self.stream)
                .values(seq=claim.through, updated_at=self._clock.now())
            )
        await session.execute(
            bus_sequence.delete().where(
                bus_sequence.c.stream == self.stream, bus_sequence.c.seq <= claim.through
            )
        )

    async def _lock_cursor(self, session: AsyncSession) -> int | None:
        insert = sqlite_insert if _is_sqlite(session) else postgresql_insert
        row = {"stream": self.stream, "seq": 0, "updated_at": self._clock.now()}
        await session.execute(insert(bus_cursor).values(row).on_conflict_do_nothing())
        query = sa.select(bus_cursor.c.seq).where(bus_cursor.c.stream == self.stream)
        found = (await session.execute(query.with_for_update(skip_locked=True))).scalar()
        return None if found is None else int(found)


def _is_sqlite(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "sqlite"
