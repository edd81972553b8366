"""Processes stored intake through the stage sequence; resumes whatever a crash left pending."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from vigil.events import Event
from vigil.pipeline.base import Item, StageContext, StageFailure
from vigil.pipeline.deadletters import (
    NewDeadLetter,
    db_reason,
    event_letter,
    insert_dead_letters,
    payload_letter,
)
from vigil.pipeline.intake import StoredIntake
from vigil.pipeline.intake_rows import claim, mark, mark_processed, pending, pending_one
from vigil.pipeline.ordering import StreamOrder
from vigil.pipeline.outbox import ProcessingLock
from vigil.pipeline.retention import Janitor, Tidied
from vigil.pipeline.sequence import Outcome, Sequence
from vigil.pipeline.tables import intake
from vigil.pipeline.unmute import MuteLifter
from vigil.platform.clock import Clock
from vigil.platform.db import Database, is_transient
from vigil.platform.ids import IdFactory
from vigil.platform.metrics import Metrics
from vigil.sources import PayloadError, SourceRegistry

__all__ = ["Processor"]

log = logging.getLogger(__name__)

# Parsed events kept for requests the writer just stored, so they are not parsed twice.
_MAX_HINTS = 20_000
# How often (at most) to look for tables grown enough to need fresh planner statistics,
# and how many changed rows make a table worth analysing (then each time it doubles).
_STATS_EVERY = timedelta(seconds=2)
_STATS_MIN_ROWS = 2000
# Under a backlog a batch grows (doubling) up to this many times the configured size while
# batches stay quick: per-batch costs (claim, lookups, commit) are then shared by more
# events. A slow batch goes back to the configured size. SQLite with intake in the same
# file keeps it always: there its batch holds the one write lock the webhooks wait for.
_MAX_GROWTH = 4
_QUICK_BATCH = timedelta(seconds=1)
_HELD_OFF_POLL = 0.05
_CHECKPOINT_EVERY = timedelta(seconds=1)
# How often to look for muted alerts whose silence or maintenance window has ended.
_LIFT_EVERY = timedelta(seconds=15)


class _BatchError(Exception):
    """A batch failed; `claimed` are the requests it held (to isolate the poison one)."""

    def __init__(self, cause: Exception, claimed: list[str]) -> None:
        super().__init__(repr(cause))
        self.cause, self.claimed = cause, claimed


class Processor:
    """Takes pending intake rows oldest first, runs the sequence and marks them done, all in
    one transaction per batch. A batch that fails for a non-transient reason is split
    until the poison request is alone; that one is dead-lettered.

    With an `order` (workers on a bus), "oldest first" is the stream's order instead of
    the intake id's, one processor at a time (see `vigil.pipeline.ordering`)."""

    def __init__(  # noqa: PLR0913 - wired once in wiring.py
        self,
        db: Database,
        sources: SourceRegistry,
        sequence: Sequence,
        clock: Clock,
        ids: IdFactory,
        metrics: Metrics,
        batch_size: int = 400,
        order: StreamOrder | None = None,
        outbox: Database | None = None,
        lifter: MuteLifter | None = None,
        janitor: Janitor | None = None,
    ) -> None:
        self._db, self._sources, self._sequence = db, sources, sequence
        self._order = order
        # Where intake is: the main database, or the embedded outbox file (vigil.pipeline.outbox).
        self._outbox = outbox or db
        self._exclusive = ProcessingLock(self._outbox) if self._outbox is not db else None
        self._clock, self._ids, self._metrics = clock, ids, metrics
        self._batch_size = batch_size
        self._claim_size = batch_size
        self._hints: dict[str, list[Event]] = {}
        self._wake = asyncio.Event()
        self._stats_checked: datetime | None = None
        self._analyzing: asyncio.Task[None] | None = None
        self._held_off = False
        self._checkpointed: datetime | None = None
        self._lifter = lifter
        self._janitor = janitor
        self._lifted: datetime | None = None  # when muted alerts were last looked over

    @property
    def order(self) -> StreamOrder | None:
        return self._order

    def close(self) -> None:
        if self._exclusive is not None:
            self._exclusive.close()

    async def process_request(self, intake_id: str) -> int:
        """Process this one pending request now (1), or nothing if it is not pending (0)."""
        return await self._process_next(only=intake_id)

    def notify(self, stored: list[StoredIntake]) -> None:
        """Called by the intake writer after a commit: remember the parse, wake up."""
        for item in stored:
            if item.events is not None and len(self._hints) < _MAX_HINTS:
                self._hints[item.id] = item.events
        self._wake.set()

    async def run(self, stop: asyncio.Event, *, idle_poll: float = 1.0) -> None:
        """Process until `stop` is set; polls every `idle_poll` s for work from elsewhere."""
        backoff = 0.1
        while not stop.is_set():
            # Cleared before draining: a wake-up that comes while the drain is past its
            # last claim is kept, and the wait below returns at once.
            self._wake.clear()
            try:
                await self.drain(stop)
                await self._lift_mutes()
                await self._tidy()
                backoff = 0.1
            except Exception:
                log.exception("processing failed; retrying in %.1fs", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            # Held off by another worker processing the stream: look again soon, in case
            # it let go just before what this worker stored was recorded.
            timeout = _HELD_OFF_POLL if self._held_off else idle_poll
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)
        await self.settle()

    async def drain(self, stop: asyncio.Event | None = None) -> int:
        """Process pending intake until none is left (or `stop` is set, checked between
        batches, so shutdown does not wait for a whole backlog); returns requests done.
        A one-off drain (no `stop`) also waits for any ANALYZE it started."""
        total = 0
        while not (stop and stop.is_set()) and (claimed := await self._process_next()):
            total += claimed
            await self._refresh_statistics()
            if stop is not None:  # the run loop's: a backlog must not hold retention off
                await self._tidy()
        await self._update_backlog()
        if stop is None:
            await self.settle()
        return total

    async def _lift_mutes(self, *, force: bool = False) -> int:
        """Every `_LIFT_EVERY` (or now, with `force`): correlate the muted alerts still
        firing whose silence or maintenance window has ended (`vigil.pipeline.unmute`);
        returns how many."""
        now = self._clock.now()
        due = self._lifted is None or now - self._lifted >= _LIFT_EVERY
        if self._lifter is None or not (due or force):
            return 0
        self._lifted = now
        async with self._db.writing() as session:
            outcome = await self._lifter(StageContext(session, now))
            await session.commit()
        if outcome.stored:
            log.info("%d muted alert(s) no longer muted, correlated", len(outcome.stored))
        return len(outcome.stored)

    async def tidy(self) -> Tidied:
        """Delete what the retention settings let go, now (see `vigil.pipeline.retention`);
        the run loop does it every `retention.every_seconds`."""
        return await self._tidy(force=True)

    async def _tidy(self, *, force: bool = False) -> Tidied:
        if self._janitor is None:
            return Tidied()
        done = await self._janitor.tidy(self._clock.now(), force=force)
        deleted = self._metrics.retention_deleted
        deleted.labels(table="intake").inc(done.intake)
        deleted.labels(table="dead_letters").inc(done.dead_letters)
        return done

    async def lift_mutes(self) -> int:
        """Look over the muted alerts now (see `_lift_mutes`); for commands and tests."""
        return await self._lift_mutes(force=True)

    async def _refresh_statistics(self) -> None:
        """Every few seconds, look for tables that grew a lot since their last ANALYZE
        (Postgres) and analyse them in the background: between autovacuum rounds a young
        table has no statistics, and lookups planned without them slow every batch."""
        now = self._clock.now()
        if self._stats_checked is not None and now - self._stats_checked < _STATS_EVERY:
            return
        if self._analyzing is not None and not self._analyzing.done():
            return
        self._stats_checked = now
        try:
            grown = await self._db.grown_tables(min_changes=_STATS_MIN_ROWS, growth=1.0)
        except Exception as exc:  # statistics only speed things up; never stop for them
            log.warning("reading table statistics failed: %r", exc)
            return
        if grown:
            self._analyzing = asyncio.create_task(self._analyze(grown), name="vigil-analyze")

    async def _analyze(self, tables: list[str]) -> None:
        try:
            await self._db.analyze(tables)
        except Exception as exc:
            log.warning("ANALYZE %s failed: %r", ", ".join(tables), exc)
        else:
            log.info("refreshed planner statistics of %s", ", ".join(tables))

    async def settle(self) -> None:
        """Wait for a background ANALYZE to finish (before the database is closed)."""
        if self._analyzing is not None:
            await self._analyzing
            self._analyzing = None

    async def backlog(self) -> int:
        async with self._outbox.session() as session:
            query = sa.select(sa.func.count()).select_from(intake)
            query = query.where(intake.c.state == "pending")
            return int((await session.execute(query)).scalar_one())

    async def _update_backlog(self) -> None:
        self._metrics.backlog.set(await self.backlog())

    async def _process_next(self, only: str | None = None) -> int:
        """Claim a batch of pending requests (or just `only`) and process it; returns how
        many were claimed. In the main database, claiming happens inside the write
        transaction, so concurrent processors never take the same request; with the
        outbox file, the one processor reads the batch there and marks it after the
        results are committed."""
        claimed: list[str] = []
        started, limit = self._clock.now(), 1 if only else self._claim_size
        try:
            if self._outbox is self._db:
                taken, rows, outcome, letters = await self._in_one_transaction(limit, only)
            else:
                taken, rows, outcome, letters = await self._beside_outbox(limit, only)
            claimed = [row["id"] for row in rows]
        except _BatchError as failed:
            exc, claimed = failed.cause, failed.claimed
            if is_transient(exc) or not claimed:
                raise exc from None
            log.warning("batch of %d request(s) failed, isolating: %r", len(claimed), exc)
            if only is not None:
                await self._isolate(only)
            else:
                for intake_id in claimed:
                    await self._process_next(only=intake_id)
            return len(claimed)
        if not taken:
            return 0
        self._account(rows, outcome, letters)
        if only is None:
            self._resize(full=len(rows) == limit, took=self._clock.now() - started)
        return taken

    async def _in_one_transaction(
        self, limit: int, only: str | None
    ) -> tuple[int, list[dict[str, Any]], Outcome, list[NewDeadLetter]]:
        rows: list[dict[str, Any]] = []
        try:
            async with self._db.writing() as session:
                if self._order is not None and only is None:
                    stream = await self._order.claim(session, limit)
                    self._held_off = stream is None
                    rows = await pending(session, stream.intake_ids) if stream else []
                else:
                    stream, rows = None, await claim(session, limit, only)
                taken = max(len(rows), stream.sequences if stream else 0)
                if not taken:
                    return 0, [], Outcome([], [], []), []
                outcome, letters, done, failed = await self._run(session, rows)
                await mark_processed(session, done, failed, self._clock.now())
                if self._order is not None and stream is not None:
                    await self._order.advance(session, stream)
                await session.commit()
        except Exception as exc:
            raise _BatchError(exc, [row["id"] for row in rows]) from exc
        return taken, rows, outcome, letters

    async def _beside_outbox(
        self, limit: int, only: str | None
    ) -> tuple[int, list[dict[str, Any]], Outcome, list[NewDeadLetter]]:
        assert self._exclusive is not None
        async with self._exclusive:
            async with self._outbox.session() as reading:
                rows = await claim(reading, limit, only)
            if not rows:
                return 0, [], Outcome([], [], []), []
            try:
                async with self._db.writing() as session:
                    outcome, letters, done, failed = await self._run(session, rows)
                    await session.commit()
            except Exception as exc:
                raise _BatchError(exc, [row["id"] for row in rows]) from exc
            async with self._outbox.writing() as marking:
                await mark_processed(marking, done, failed, self._clock.now())
                await marking.commit()
        await self._checkpoint_outbox()
        return len(rows), rows, outcome, letters

    async def _checkpoint_outbox(self) -> None:
        """Every so often, fold the outbox's write-ahead log into its file: the outbox
        does not do it at commit, so that webhooks never wait for it."""
        now = self._clock.now()
        if self._checkpointed is None or now - self._checkpointed >= _CHECKPOINT_EVERY:
            self._checkpointed = now
            await self._outbox.checkpoint()

    def _resize(self, *, full: bool, took: timedelta) -> None:
        """A full claim means a backlog: claim twice as many next time, as long as batches
        stay quick (not where webhooks wait for the batch's write lock)."""
        webhooks_wait = self._db.is_sqlite and self._outbox is self._db
        if full and took < _QUICK_BATCH and not webhooks_wait:
            self._claim_size = min(self._claim_size * 2, self._batch_size * _MAX_GROWTH)
        elif not full or took >= _QUICK_BATCH:
            self._claim_size = self._batch_size

    def _items(self, row: Mapping[str, Any]) -> list[Item]:
        events = self._hints.pop(row["id"], None)
        if events is None:
            source = self._sources.get(row["source"])
            events = source.parse(
                orjson.loads(row["body"]),
                received_at=row["received_at"],
                tenant_id=row["tenant_id"],
            )
        return [Item(event=event, intake_id=row["id"]) for event in events]

    async def _run(
        self, session: AsyncSession, rows: list[dict[str, Any]]
    ) -> tuple[Outcome, list[NewDeadLetter], list[str], list[str]]:
        """Parse, run the sequence and write dead letters; returns also the requests done
        and failed, for the caller to mark. No commit."""
        now = self._clock.now()
        items: list[Item] = []
        letters: list[NewDeadLetter] = []
        failed_ids: list[str] = []
        for row in rows:
            try:
                items.extend(self._items(row))
            except (PayloadError, KeyError, orjson.JSONDecodeError) as exc:
                letters.append(payload_letter(row, "parse", exc))
                failed_ids.append(row["id"])
        outcome = await self._sequence(items, StageContext(session, now))
        letters.extend(event_letter(item) for item in outcome.failed)
        await insert_dead_letters(session, [x.row(self._ids.new(), now) for x in letters])
        done = [row["id"] for row in rows if row["id"] not in failed_ids]
        return outcome, letters, done, failed_ids

    async def _isolate(self, intake_id: str) -> None:
        """One request fails as a whole: store its events one by one, so only the event
        the database refuses is dead-lettered (with the database's reason). No other
        processor takes the request meanwhile: beside an outbox file this holds the
        processing lock, like a batch; on Postgres it holds the request's row (workers
        sharing the database skip it); in an in-memory SQLite database, the request is
        marked only if no other processor of this process finished it meanwhile."""
        if self._exclusive is not None:
            async with self._exclusive:
                await self._isolate_beside_outbox(intake_id)
        elif self._db.is_sqlite:
            await self._isolate_in_memory(intake_id)
        else:
            await self._isolate_holding_the_row(intake_id)

    async def _isolate_beside_outbox(self, intake_id: str) -> None:
        async with self._outbox.session() as session:
            found = (await session.execute(pending_one(intake_id))).mappings().one_or_none()
        if found is None:
            return  # another processor finished it meanwhile
        letters, now = await self._each_event(dict(found)), self._clock.now()
        async with self._db.writing() as session:
            await self._write_isolated(session, None, letters, now)
        async with self._outbox.writing() as session:
            await mark(session, [intake_id], "done", now)
            await session.commit()

    async def _isolate_holding_the_row(self, intake_id: str) -> None:
        async with self._db.writing() as held:
            query = pending_one(intake_id).with_for_update(skip_locked=True)
            found = (await held.execute(query)).mappings().one_or_none()
            if found is None:
                return  # another worker has it, or finished it meanwhile
            letters = await self._each_event(dict(found))
            await self._write_isolated(held, intake_id, letters, self._clock.now())

    async def _isolate_in_memory(self, intake_id: str) -> None:
        async with self._db.session() as reading:
            found = (await reading.execute(pending_one(intake_id))).mappings().one_or_none()
        if found is None:
            return
        letters = await self._each_event(dict(found))
        async with self._db.writing() as session:
            query = sa.select(intake.c.state).where(intake.c.id == intake_id)
            if await session.scalar(query) != "pending":
                return  # another processor of this process finished it meanwhile
            await self._write_isolated(session, intake_id, letters, self._clock.now())

    async def _write_isolated(
        self,
        session: AsyncSession,
        intake_id: str | None,
        letters: list[NewDeadLetter],
        now: datetime,
    ) -> None:
        """The isolated request's dead letters, and its mark when intake is in this
        database (``intake_id``); committed, then counted."""
        if intake_id is not None:
            await mark(session, [intake_id], "done", now)
        await insert_dead_letters(session, [x.row(self._ids.new(), now) for x in letters])
        await session.commit()
        self._count_letters(letters)

    async def _each_event(self, row: dict[str, Any]) -> list[NewDeadLetter]:
        """Store a request's events one transaction each; the dead letters to write."""
        letters: list[NewDeadLetter] = []
        for item in self._items(row):
            try:
                # Failures come back in the outcome; the caller writes them, once.
                outcome = await self.process_events(
                    [item.event], dead_letter=False, intake_id=row["id"]
                )
                letters.extend(event_letter(x) for x in outcome.failed)
            except Exception as exc:
                if is_transient(exc):
                    raise
                failure = StageFailure("store", "", db_reason(exc))
                letters.append(event_letter(Item(item.event, row["id"], failure=failure)))
        return letters

    def _count_letters(self, letters: list[NewDeadLetter]) -> None:
        for letter in letters:
            self._metrics.dead_letters.labels(letter.source, letter.stage).inc()

    def _account(
        self, rows: list[dict[str, Any]], outcome: Outcome, letters: list[NewDeadLetter]
    ) -> None:
        m = self._metrics
        finished = self._clock.now()
        for row in rows:
            m.processing_latency.observe(max(0.0, (finished - row["received_at"]).total_seconds()))
        for item in outcome.stored:
            source = item.event.source
            (m.events_deduplicated if item.folded else m.events_accepted).labels(source).inc()
            if item.silenced_by:
                m.events_silenced.labels(source).inc()
        for item in outcome.dropped:
            m.events_redelivered.labels(item.event.source).inc()
        self._count_letters(letters)

    async def process_events(
        self, events: list[Event], *, dead_letter: bool = True, intake_id: str | None = None
    ) -> Outcome:
        """Run events through the sequence and commit. With `dead_letter=False` (a replay),
        failures are reported in the outcome but not written again."""
        now = self._clock.now()
        async with self._db.writing() as session:
            ctx = StageContext(session, now)
            batch = [Item(event=e, intake_id=intake_id) for e in events]
            outcome = await self._sequence(batch, ctx)
            letters = [event_letter(item) for item in outcome.failed] if dead_letter else []
            await insert_dead_letters(session, [x.row(self._ids.new(), now) for x in letters])
            await session.commit()
        self._account([], outcome, letters)
        return outcome
