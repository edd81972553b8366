"""Intake over the message bus: the edge publishes accepted requests, workers store them.

With a bus configured, the webhook's 2xx means the request is in JetStream (replicated
storage of the broker), not yet in the database. A worker takes a batch, writes the
requests to `intake` exactly like the embedded edge does (an already stored request key
is left alone, so a redelivered message is harmless) and acknowledges the batch after
that commit and after recording each request's stream sequence; processing then takes
them in that order (`vigil.pipeline.ordering`), whichever worker stored them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

import orjson

from vigil.events import Event
from vigil.pipeline.intake import IntakeRequest, IntakeSink, StoredIntake
from vigil.pipeline.ordering import StreamOrder
from vigil.platform.bus import BatchHandler, BusMessage
from vigil.platform.db import Database
from vigil.platform.ids import IdFactory

__all__ = ["BusIntakeSink", "IntakeConsumer", "decode_request", "encode_request"]

log = logging.getLogger(__name__)


class Publisher(Protocol):
    async def publish(self, payload: bytes, *, message_id: str) -> bool: ...


def encode_request(request: IntakeRequest) -> bytes:
    return orjson.dumps(
        {
            "id": request.id,
            "tenant_id": request.tenant_id,
            "source": request.source,
            "request_key": request.request_key,
            "received_at": request.received_at.isoformat(),
            "body": request.body,
            "headers": request.headers,
        }
    )


def decode_request(payload: bytes) -> IntakeRequest:
    data = orjson.loads(payload)
    return IntakeRequest(
        tenant_id=data["tenant_id"],
        source=data["source"],
        request_key=data["request_key"],
        received_at=datetime.fromisoformat(data["received_at"]),
        body=data["body"],
        headers=data["headers"],
        id=data["id"],
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
        duplicate = await self._bus.publish(encode_request(message), message_id=identity)
        return StoredIntake(intake_id, duplicate=duplicate)


class IntakeConsumer:
    """A worker's handler: store a batch of requests (one group commit), record their
    stream sequences for ordered processing, then ack (by returning)."""

    def __init__(
        self,
        writer: IntakeSink,
        db: Database,
        order: StreamOrder,
        on_recorded: Callable[[], None] = lambda: None,
    ) -> None:
        self._writer, self._db, self._order = writer, db, order
        self._on_recorded = on_recorded

    @property
    def handler(self) -> BatchHandler:
        return self._handle

    async def _handle(self, messages: list[BusMessage]) -> None:
        requests, unreadable = [], []
        for message in messages:
            try:
                requests.append((message.seq, decode_request(message.data)))
            except (ValueError, KeyError, TypeError):
                # Only Vigil publishes here; a message it cannot read is logged whole
                # rather than redelivered forever (its sequence is recorded as empty).
                log.error("unreadable intake message dropped: %r", message.data[:2000])
                unreadable.append(message.seq)
        stored = await asyncio.gather(*(self._writer.submit(r, None) for _, r in requests))
        sequenced: list[tuple[int, str | None]] = [(seq, None) for seq in unreadable]
        sequenced += [(seq, s.id) for (seq, _), s in zip(requests, stored, strict=True)]
        async with self._db.writing() as session:
            await self._order.record(session, sequenced)
            await session.commit()
        self._on_recorded()
