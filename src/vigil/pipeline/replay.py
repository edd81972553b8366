"""Replays a dead letter after a fix: a payload is parsed again, an event re-run."""

from __future__ import annotations

from dataclasses import dataclass

import orjson
import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from vigil.events import Event
from vigil.pipeline.deadletters import BASE64, DeadLetter, get_dead_letter, mark_replayed
from vigil.pipeline.intake import request_key
from vigil.pipeline.processor import Processor
from vigil.pipeline.tables import intake
from vigil.platform.clock import Clock
from vigil.platform.db import Database
from vigil.platform.ids import IdFactory
from vigil.sources import PayloadError, SourceRegistry

__all__ = ["DeadLetterReplayer", "ReplayResult"]


@dataclass(frozen=True, slots=True)
class ReplayResult:
    dead_letter_id: str
    ok: bool
    detail: str


class DeadLetterReplayer:
    """A successful replay marks the dead letter replayed; a failing one keeps it, with why."""

    def __init__(
        self,
        db: Database,
        sources: SourceRegistry,
        processor: Processor,
        clock: Clock,
        ids: IdFactory,
        *,
        outbox: Database | None = None,
    ) -> None:
        self._outbox = outbox or db  # where intake is (vigil.pipeline.outbox)
        self._db, self._sources, self._processor = db, sources, processor
        self._clock, self._ids = clock, ids

    async def replay(self, tenant_id: str, dead_letter_id: str) -> ReplayResult:
        async with self._db.session() as session:
            letter = await get_dead_letter(session, tenant_id, dead_letter_id)
        if letter is None:
            return ReplayResult(dead_letter_id, False, "no such dead letter")
        if letter.replayed_at is not None:
            return ReplayResult(dead_letter_id, True, "already replayed")
        if letter.kind == "event":
            ok, detail = await self._replay_event(letter)
        else:
            ok, detail = await self._replay_payload(letter)
        async with self._db.writing() as session:
            at = self._clock.now() if ok else None
            await mark_replayed(session, letter.id, at=at, result=detail)
            await session.commit()
        return ReplayResult(dead_letter_id, ok, detail)

    async def _replay_event(self, letter: DeadLetter) -> tuple[bool, str]:
        try:
            event = Event.model_validate_json(letter.payload)
        except ValidationError as exc:
            return False, f"stored event no longer valid: {exc.errors()[0]['msg']}"
        outcome = await self._processor.process_events([event], dead_letter=False)
        if outcome.failed:
            failure = outcome.failed[0].failure
            assert failure is not None
            return False, f"still failing at {failure.stage}: {failure.reason}"
        if outcome.dropped:
            return True, "already stored (redelivered)"
        return True, f"stored as event {outcome.stored[0].event_id}"

    async def _replay_payload(self, letter: DeadLetter) -> tuple[bool, str]:
        if letter.source not in self._sources:
            return False, f"source {letter.source!r} is not installed"
        if letter.headers.get("content-transfer-encoding") == BASE64:
            # Kept as sent, bytes that are not UTF-8 text (or hold NUL): still not JSON.
            return False, "still failing: the body is not UTF-8 JSON text (kept as base64, as sent)"
        try:
            payload = orjson.loads(letter.payload)
            events = self._sources.get(letter.source).parse(
                payload, received_at=letter.received_at, tenant_id=letter.tenant_id
            )
        except orjson.JSONDecodeError as exc:
            return False, f"still failing: body is not valid JSON: {exc}"
        except PayloadError as exc:
            return False, f"still failing: {exc}"
        intake_id = await self._requeue(letter)
        # Only this request: a backlog is the processor's to work through, not the caller's.
        if not await self._processor.process_request(intake_id) and not await self._kept(
            intake_id
        ):  # not processed here, and not there for another processor either
            return False, "not processed: its request was deleted meanwhile; replay it again"
        return True, f"parsed into {len(events)} event(s) and processed"

    async def _kept(self, intake_id: str) -> bool:
        async with self._outbox.session() as session:
            query = sa.select(intake.c.id).where(intake.c.id == intake_id)
            return (await session.execute(query)).scalar_one_or_none() is not None

    async def _requeue(self, letter: DeadLetter) -> str:
        """Put the letter's request back in intake as pending; returns its intake id."""
        async with self._outbox.writing() as session:
            intake_id = letter.intake_id
            if intake_id is None or not await _set_pending(session, intake_id):
                # Never stored, or deleted since (retention): from the letter's copy.
                key = request_key(letter.payload.encode())
                query = sa.select(intake.c.id).where(
                    intake.c.tenant_id == letter.tenant_id,
                    intake.c.source == letter.source,
                    intake.c.request_key == key,
                )
                found = (await session.execute(query)).scalar_one_or_none()
                if found is not None:
                    intake_id = found
                    await _set_pending(session, found)
                else:
                    intake_id = intake_id or self._ids.new()
                    await session.execute(
                        intake.insert().values(
                            id=intake_id,
                            tenant_id=letter.tenant_id,
                            source=letter.source,
                            request_key=key,
                            received_at=letter.received_at,
                            body=letter.payload,
                            headers=letter.headers,
                            state="pending",
                            attempts=0,
                        )
                    )
            await session.commit()
        return intake_id


async def _set_pending(session: AsyncSession, intake_id: str) -> bool:
    """Put a stored request back as pending; False if there is no such request."""
    result = await session.execute(
        intake.update().where(intake.c.id == intake_id).values(state="pending", error=None)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
