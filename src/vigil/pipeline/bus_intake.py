"""Intake over the message bus: the edge publishes accepted requests, workers store them.

With a bus configured, the webhook's 2xx means the request is in JetStream (replicated
storage of the broker), not yet in the database. A worker takes a batch, writes the
requests to `intake` exactly like the embedded edge does (an already stored request key
is left alone, so a redelivered message is harmless) and acknowledges the batch after
that commit and after recording each request's stream sequence; processing then takes
them in that order (`vigil.pipeline.ordering`), whichever worker stored them.

A message is the request's envelope as one line of JSON, a newline, then the body as
received (not escaped into a JSON string, which could double it past the bus's size
limit). A request too large for the bus is refused at the edge (413, dead-lettered).
Nothing the bus delivers is lost or blocks the others: a message a worker cannot read,
or a request the database refuses, becomes a dead letter with the reason and the whole
message, and the batch is acknowledged; only a failure of the database or its
connection leaves the batch to be redelivered.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from vigil.events import Event
from vigil.pipeline.deadletters import NewDeadLetter, db_reason, insert_dead_letters, kept_body
from vigil.pipeline.intake import IntakeRequest, IntakeSink, SinkLimitError, StoredIntake
from vigil.pipeline.ordering import StreamOrder
from vigil.platform.bus import BatchHandler, BusMessage
from vigil.platform.clock import Clock, SystemClock
from vigil.platform.db import Database, check_storable, is_transient
from vigil.platform.ids import IdFactory

__all__ = ["BusIntakeSink", "IntakeConsumer", "decode_request", "encode_request"]

log = logging.getLogger(__name__)

# Room for the message id header NATS carries with the payload.
_HEADER_ROOM = 256
# Seconds a worker waits before a batch it could not store comes again (doubling).
_FIRST_BACKOFF, _MAX_BACKOFF = 0.2, 10.0


class Publisher(Protocol):
    @property
    def max_payload(self) -> int | None: ...

    async def publish(self, payload: bytes, *, message_id: str) -> bool: ...


class _Envelope(BaseModel):
    """What a bus message says of its request, checked as strictly as the table is."""

    model_config = ConfigDict(strict=True, extra="forbid")

    id: str = Field(min_length=1, max_length=26)
    tenant_id: str = Field(min_length=1, max_length=64)
    source: str = Field(min_length=1, max_length=64)
    request_key: str = Field(min_length=1, max_length=64)
    received_at: AwareDatetime
    headers: dict[str, str]
    body: str | None = None  # messages published before the body followed the envelope

    @model_validator(mode="after")
    def _storable(self) -> _Envelope:
        check_storable([self.id, self.tenant_id, self.source, self.request_key, self.body or ""])
        check_storable(self.headers)
        return self


def encode_request(request: IntakeRequest) -> bytes:
    envelope = {
        "id": request.id,
        "tenant_id": request.tenant_id,
        "source": request.source,
        "request_key": request.request_key,
        "received_at": request.received_at.isoformat(),
        "headers": request.headers,
    }
    return orjson.dumps(envelope) + b"\n" + request.body.encode("utf-8")


def decode_request(payload: bytes) -> IntakeRequest:
    """The request a message carries; `ValueError` saying why when it cannot be read."""
    head, newline, rest = payload.partition(b"\n")
    envelope = _Envelope.model_validate_json(head)
    body = rest.decode("utf-8") if newline else envelope.body
    if body is None or (newline and envelope.body is not None):
        raise ValueError("a message needs one body: after the envelope's line, or in it")
    check_storable(body)
    return IntakeRequest(
        tenant_id=envelope.tenant_id,
        source=envelope.source,
        request_key=envelope.request_key,
        received_at=envelope.received_at,
        body=body,
        headers=envelope.headers,
        id=envelope.id,
    )


class BusIntakeSink:
    """The edge's `IntakeSink` when a bus is configured: publish, durable on the ack.

    The message id is the request's identity, so the broker itself recognises a
    redelivery within its duplicate window (the database catches later ones)."""

    def __init__(self, bus: Publisher, ids: IdFactory) -> None:
        self._bus, self._ids = bus, ids

    async def submit(self, request: IntakeRequest, events: list[Event] | None) -> StoredIntake:
        intake_id = request.id or self._ids.new()
        message = dataclasses.replace(request, id=intake_id)
        identity = f"{request.tenant_id}/{request.source}/{request.request_key}"
        payload = encode_request(message)
        limit = self._bus.max_payload
        if limit is not None and len(payload) + len(identity) + _HEADER_ROOM > limit:
            raise SinkLimitError(len(payload) + len(identity), limit - _HEADER_ROOM)
        duplicate = await self._bus.publish(payload, message_id=identity)
        return StoredIntake(intake_id, duplicate=duplicate)


def _letter(
    message: BusMessage, request: IntakeRequest | None, reason: str, at: datetime, tenant: str
) -> NewDeadLetter:
    """A bus message that cannot be stored, kept whole for the record (and for replay,
    when it was a readable request); one that cannot be read goes to `tenant`."""
    if request is None:
        return NewDeadLetter(
            tenant_id=tenant,
            source="bus",
            kind="payload",
            stage="bus",
            field=f"stream sequence {message.seq}",
            reason=reason,
            received_at=at,
            **kept_body(message.data, {}),
        )
    return NewDeadLetter(
        tenant_id=request.tenant_id,
        source=request.source,
        kind="payload",
        stage="intake",
        field=f"stream sequence {message.seq}",
        reason=reason,
        received_at=request.received_at,
        **kept_body(request.body.encode("utf-8"), request.headers),
    )


class IntakeConsumer:
    """A worker's handler: store a batch of requests (one group commit), record their
    stream sequences for ordered processing, then ack (by returning)."""

    def __init__(  # noqa: PLR0913 - wired once, in `vigil worker`
        self,
        writer: IntakeSink,
        db: Database,
        order: StreamOrder,
        ids: IdFactory,
        on_recorded: Callable[[], None] = lambda: None,
        clock: Clock | None = None,
        tenant: str = "default",
    ) -> None:
        self._writer, self._db, self._order, self._ids = writer, db, order, ids
        self._on_recorded = on_recorded
        self._clock = clock or SystemClock()
        self._tenant = tenant  # where a message that names no readable tenant is kept
        self._backoff = _FIRST_BACKOFF

    @property
    def handler(self) -> BatchHandler:
        return self._handle

    async def _handle(self, messages: list[BusMessage]) -> None:
        try:
            await self._take(messages)
        except Exception:
            # The batch is redelivered at once: wait first, so an outage of the database
            # is not a storm of retries (and of log lines).
            log.warning("batch of %d bus message(s) not stored; retry in %.1fs",
                        len(messages), self._backoff, exc_info=True)  # fmt: skip
            await asyncio.sleep(self._backoff)
            self._backoff = min(self._backoff * 2, _MAX_BACKOFF)
            raise
        self._backoff = _FIRST_BACKOFF

    async def _take(self, messages: list[BusMessage]) -> None:
        readable: list[tuple[BusMessage, IntakeRequest]] = []
        letters: list[NewDeadLetter] = []
        sequenced: list[tuple[int, str | None]] = []
        for message in messages:
            try:
                readable.append((message, decode_request(message.data)))
            except ValueError as exc:
                # Only Vigil publishes here, but a message it cannot read must neither be
                # redelivered forever nor vanish: it is kept as a dead letter.
                log.error("bus message %d cannot be read: %s", message.seq, exc)
                reason = f"message cannot be read: {exc}"
                letters.append(_letter(message, None, reason, self._clock.now(), self._tenant))
                sequenced.append((message.seq, None))
        stored = await self._store(readable, letters)
        sequenced += [
            (m.seq, s.id if s else None) for (m, _), s in zip(readable, stored, strict=True)
        ]
        now = self._clock.now()
        async with self._db.writing() as session:
            await insert_dead_letters(session, [x.row(self._ids.new(), now) for x in letters])
            await self._order.record(session, sequenced)
            await session.commit()
        self._on_recorded()

    async def _store(
        self, readable: list[tuple[BusMessage, IntakeRequest]], letters: list[NewDeadLetter]
    ) -> list[StoredIntake | None]:
        """Store the batch in one group commit; when the database refuses it for its data,
        store each request on its own, so one it refuses (dead-lettered) does not hold up
        the rest. A failure of the database itself is raised: the batch comes again."""
        submit = self._writer.submit
        outcomes = await asyncio.gather(
            *(submit(request, None) for _, request in readable), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and (
                not isinstance(outcome, Exception) or is_transient(outcome)
            ):
                raise outcome
        stored: list[StoredIntake | None] = []
        for (message, request), outcome in zip(readable, outcomes, strict=True):
            if isinstance(outcome, StoredIntake):
                stored.append(outcome)
                continue
            try:
                stored.append(await submit(request, None))
            except Exception as exc:
                if is_transient(exc):
                    raise
                log.error("bus message %d cannot be stored: %r", message.seq, exc)
                reason = f"cannot be stored: {db_reason(exc)}"
                letters.append(_letter(message, request, reason, self._clock.now(), self._tenant))
                stored.append(None)
        return stored
