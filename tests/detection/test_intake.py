"""Detection events through the intake, like any alert: stored as `vigil.detector`
requests by the embedded writer (or published on the bus and stored by a worker), parsed
back from the stored body and run through the pipeline; a repeated pass stores nothing
twice; large passes are split into ordered requests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import T0
from tests.detection.signals import anomaly
from vigil.detection import DETECTOR_SOURCE, DetectionService, DetectorIntake, TelemetryClients
from vigil.detection.intake import detector_requests
from vigil.detection.source import DetectorSource
from vigil.incidents.read import list_summaries
from vigil.incidents.repository import IncidentQuery
from vigil.interfaces.runtime import Runtime
from vigil.pipeline import IntakeWriter, Processor, load_catalog
from vigil.pipeline.bus_intake import BusIntakeSink, IntakeConsumer
from vigil.pipeline.ordering import StreamOrder
from vigil.pipeline.repository import EventQuery, list_events
from vigil.pipeline.tables import intake
from vigil.platform import load_settings
from vigil.platform.bus import BusMessage
from vigil.sources import SourceRegistry
from vigil.testing.clock import FakeClock
from vigil.wiring import build_sequence


@dataclass
class Pipeline:
    """A writer that gives the processor no parse hints (so every stored body is parsed,
    as after a restart or on a worker) and processors that know `vigil.detector`: in
    intake order (embedded) and in stream order (workers on a bus)."""

    writer: IntakeWriter
    processor: Processor
    order: StreamOrder
    ordered: Processor


@pytest.fixture
async def pipeline(runtime: Runtime) -> AsyncIterator[Pipeline]:
    known = {name: runtime.sources.get(name) for name in runtime.sources.names()}
    sources = SourceRegistry({**known, DETECTOR_SOURCE: DetectorSource()})
    settings = runtime.settings
    sequence = build_sequence(settings, load_catalog(settings.catalog_path), runtime.ids)
    parts = (runtime.db, sources, sequence, runtime.clock, runtime.ids, runtime.metrics)
    order = StreamOrder("vigil", runtime.clock, gap=timedelta(seconds=60))
    writer = IntakeWriter(runtime.db, runtime.ids, on_stored=lambda stored: None)
    await writer.start()
    yield Pipeline(writer, Processor(*parts), order, Processor(*parts, 400, order))
    await writer.stop()


async def _stored(runtime: Runtime) -> list[tuple[str, str, str | None]]:
    async with runtime.db.session() as session:
        found = await list_events(session, EventQuery(tenant_id="default"))
    return sorted((e.source, e.status, e.service) for e in found)


async def _intake_rows(runtime: Runtime) -> list[tuple[str, str]]:
    async with runtime.db.session() as session:
        query = sa.select(intake.c.source, intake.c.state).order_by(intake.c.id)
        return [(r.source, r.state) for r in (await session.execute(query)).all()]


async def test_events_are_stored_as_intake_then_processed(
    runtime: Runtime, pipeline: Pipeline
) -> None:
    events = [anomaly("checkout", 3), anomaly("search", 2)]
    sink = DetectorIntake(pipeline.writer)
    (stored,) = await sink.process_events(events)
    assert not stored.duplicate
    assert await _intake_rows(runtime) == [(DETECTOR_SOURCE, "pending")]
    assert await pipeline.processor.drain() == 1
    assert await _intake_rows(runtime) == [(DETECTOR_SOURCE, "done")]
    assert await _stored(runtime) == [
        (DETECTOR_SOURCE, "firing", "checkout"),
        (DETECTOR_SOURCE, "firing", "search"),
    ]
    async with runtime.db.session() as session:
        incidents = await list_summaries(session, IncidentQuery(tenant_id="default"))
    assert sorted(s for i in incidents for s in i.services) == ["checkout", "search"]
    # A pass repeated after a crash submits the same events: a duplicate, nothing stored.
    (again,) = await sink.process_events(events)
    assert (again.id, again.duplicate) == (stored.id, True)
    assert await pipeline.processor.drain() == 0


@dataclass
class _Broker:
    """Stands in for JetStream: numbers messages in order, recognises a repeated id."""

    messages: list[BusMessage] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    max_payload: int | None = None

    async def publish(self, payload: bytes, *, message_id: str) -> bool:
        if message_id in self.ids:
            return True
        self.ids.add(message_id)
        self.messages.append(BusMessage(payload, len(self.messages) + 1))
        return False


async def test_in_bus_mode_events_are_published_then_stored_by_a_worker(
    runtime: Runtime, pipeline: Pipeline
) -> None:
    broker = _Broker()
    events = [anomaly(service, 5 - i) for i, service in enumerate(["a", "b", "c", "d"])]
    one = len(events[0].model_dump_json())
    sink = DetectorIntake(BusIntakeSink(broker, runtime.ids), max_body_bytes=2 * one + 100)
    stored = await sink.process_events(events)
    assert [s.duplicate for s in stored] == [False, False]
    assert await _intake_rows(runtime) == []  # on the bus, not yet in the database
    assert [s.duplicate for s in await sink.process_events(events)] == [True, True]
    consumer = IntakeConsumer(pipeline.writer, runtime.db, pipeline.order, runtime.ids)
    await consumer.handler(list(reversed(broker.messages)))  # stored in any order ...
    assert await pipeline.ordered.drain() == 2  # ... processed in the stream's
    assert [s for _, _, s in await _stored(runtime)] == ["a", "b", "c", "d"]


def test_requests_split_by_size_and_tenant_in_order() -> None:
    events = [anomaly("a", 3), anomaly("b", 2), anomaly("c", 1)]
    other = events[2].model_copy(update={"tenant_id": "other"})
    chunks = [
        (request.tenant_id, [e.entity.service for e in carried])
        for request, carried in detector_requests([*events[:2], other], max_body_bytes=10**6)
    ]
    assert chunks == [("default", ["a", "b"]), ("other", ["c"])]
    single = [len(c) for _, c in detector_requests(events, max_body_bytes=10)]
    assert single == [1, 1, 1]  # an event larger than the limit goes alone


async def test_a_detection_pass_goes_through_the_intake(
    runtime: Runtime, pipeline: Pipeline, clock: FakeClock, tmp_path: Path
) -> None:
    log = tmp_path / "checkout.log"
    lines = [
        f"{(T0 - timedelta(minutes=20) + timedelta(seconds=15 * i)).isoformat()} GET /cart 200"
        for i in range(80)
    ]
    lines += [f"{T0.isoformat()} ERROR payment gateway timeout order={i}" for i in range(12)]
    log.write_text("\n".join(lines) + "\n")
    watch = {"service": "checkout", "path": str(log)}
    settings = load_settings(detection={"logs": [watch], "tenant": "default"}).detection
    sink = DetectorIntake(pipeline.writer)
    service = DetectionService(
        settings, db=runtime.db, clock=clock, sink=sink, clients=TelemetryClients()
    )
    clock.advance(timedelta(seconds=30))
    (raised,) = (await service.run_once(clock.now())).events
    await service.aclose()
    assert await pipeline.processor.drain() == 1
    async with runtime.db.session() as session:
        (stored,) = await list_events(session, EventQuery(tenant_id="default"))
    assert (stored.source, stored.ingest_id, stored.raw) == (
        DETECTOR_SOURCE,
        raised.ingest_id,
        raised.raw,
    )
