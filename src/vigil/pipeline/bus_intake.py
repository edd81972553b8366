"""Intake over the message bus: the edge publishes accepted requests, workers store them.

With a bus configured, the webhook's 2xx means the request is in JetStream (replicated
storage of the broker), not yet in the database. A worker takes a batch, writes the
requests to `intake` exactly like the embedded edge does (an already stored request key
is left alone, so a redelivered message is harmless) and acknowledges the batch after
that commit; its processor then runs the pipeline on them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import datetime
from typing import Protocol

import orjson

from vigil.events import Event
from vigil.pipeline.intake import IntakeRequest, IntakeWriter, StoredIntake
from vigil.platform.bus import BatchHandler
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
    """A worker's handler: store a batch of requests (one group commit), then ack."""

    def __init__(self, writer: IntakeWriter) -> None:
        self._writer = writer

    @property
    def handler(self) -> BatchHandler:
        return self._handle

    async def _handle(self, messages: list[bytes]) -> None:
        requests = []
        for message in messages:
            try:
                requests.append(decode_request(message))
            except (ValueError, KeyError, TypeError):
                # Only Vigil publishes here; a message it cannot read is logged whole
                # rather than redelivered forever.
                log.error("unreadable intake message dropped: %r", message[:2000])
        await asyncio.gather(*(self._writer.submit(r, None) for r in requests))
