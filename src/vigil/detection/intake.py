"""Detection's way into the pipeline: found events become `vigil.detector` intake requests
handed to the runtime's intake sink, so they take the path of any alert (stored before
processing, carried over the bus to the workers in bus mode, parsed back by
`DetectorSource`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import orjson

from vigil.detection.alarms import DETECTOR_SOURCE
from vigil.events import Event
from vigil.pipeline.intake import IntakeRequest, IntakeSink, StoredIntake, request_key

__all__ = ["DetectorIntake", "detector_requests"]

# A body this large at most (more events go into further requests): well under a broker's
# message limit (NATS: 1 MiB by default).
MAX_BODY_BYTES = 256 << 10


def _request(tenant_id: str, events: list[Event], parts: list[bytes]) -> IntakeRequest:
    body = b'{"events":[' + b",".join(parts) + b"]}"
    # The identity of a request is the events it carries: a repeated pass that found the
    # same events is a duplicate of the first.
    key = request_key(body, "\n".join(e.ingest_id for e in events))
    received_at: datetime = max(e.received_at for e in events)
    return IntakeRequest(tenant_id, DETECTOR_SOURCE, key, received_at, body.decode(), {})


def detector_requests(
    events: list[Event], max_body_bytes: int = MAX_BODY_BYTES
) -> Iterator[tuple[IntakeRequest, list[Event]]]:
    """The events as intake requests, in order: one tenant each, bodies of at most
    `max_body_bytes` (an event larger than that goes alone)."""
    tenant: str | None = None
    chunk: list[Event] = []
    parts: list[bytes] = []
    size = 0
    for event in events:
        part = orjson.dumps(event.model_dump(mode="json"))
        full = chunk and (event.tenant_id != tenant or size + len(part) > max_body_bytes)
        if full and tenant is not None:
            yield _request(tenant, chunk, parts), chunk
            chunk, parts, size = [], [], 0
        tenant = event.tenant_id
        chunk.append(event)
        parts.append(part)
        size += len(part) + 1
    if chunk and tenant is not None:
        yield _request(tenant, chunk, parts), chunk


class DetectorIntake:
    """The detection service's `EventSink` on the runtime's `IntakeSink` (the database
    writer embedded, the bus publisher with a bus). Returns once every request is durable;
    a request already taken (a repeated pass) is reported as a duplicate, not stored twice."""

    def __init__(self, sink: IntakeSink, *, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self._sink, self._max_body = sink, max_body_bytes

    async def process_events(self, events: list[Event]) -> list[StoredIntake]:
        # One at a time, in order: a worker then processes them in the order found.
        return [
            await self._sink.submit(request, chunk)
            for request, chunk in detector_requests(events, self._max_body)
        ]
