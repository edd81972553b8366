"""Composition root: the one place that names concrete classes and the stage order."""

from __future__ import annotations

from datetime import timedelta

from vigil.detection import DetectionService
from vigil.detection.alarms import DETECTOR_SOURCE
from vigil.detection.intake import DetectorIntake
from vigil.detection.source import DetectorSource
from vigil.incidents import (
    AutoResolve,
    CorrelateStage,
    CorrelationWindow,
    IncidentService,
    ServiceGraph,
)
from vigil.interfaces.runtime import NotifyRelay, Runtime
from vigil.pipeline import (
    DeadLetterReplayer,
    IntakeService,
    IntakeWriter,
    Processor,
    Sequence,
    ServiceCatalog,
    load_catalog,
)
from vigil.pipeline.bus_intake import BusIntakeSink
from vigil.pipeline.classify import ClassifyStage
from vigil.pipeline.dedup import DedupStage
from vigil.pipeline.enrich import EnrichStage
from vigil.pipeline.intake import IntakeSink
from vigil.pipeline.ordering import StreamOrder
from vigil.pipeline.outbox import open_outbox
from vigil.pipeline.retention import Janitor
from vigil.pipeline.silence import SilenceStage
from vigil.pipeline.store import StoreStage
from vigil.pipeline.unmute import MuteLifter
from vigil.pipeline.validate import ValidateStage
from vigil.platform import Clock, Database, IdFactory, Metrics, Settings, SystemClock
from vigil.platform.bus import NatsBus
from vigil.sources import SourceRegistry, load_sources

__all__ = ["build_runtime", "build_sequence", "main"]


def build_sequence(settings: Settings, catalog: ServiceCatalog, ids: IdFactory) -> Sequence:
    """The pipeline, top to bottom."""
    rules = settings.incidents
    graph = ServiceGraph((s.name, dep) for s in catalog.services for dep in s.dependencies)
    limits = CorrelationWindow(
        window=timedelta(seconds=rules.window_seconds),
        flap_window=timedelta(seconds=rules.flap_window_seconds),
        max_hops=rules.max_hops,
    )
    return Sequence(
        [
            ValidateStage(
                max_future_skew=timedelta(seconds=settings.max_future_skew_seconds),
                max_age=timedelta(days=settings.max_event_age_days),
            ),
            DedupStage(window=timedelta(seconds=settings.dedup_window_seconds)),
            EnrichStage(catalog),
            ClassifyStage(settings.priority_rules),
            SilenceStage(settings.silences, settings.maintenance_windows),
            StoreStage(ids),
            CorrelateStage(graph, limits, ids, AutoResolve(rules.auto_resolve)),
        ]
    )


def _outbox(settings: Settings) -> Database | None:
    """Embedded (SQLite, no bus), intake has a file of its own: vigil.pipeline.outbox."""
    if settings.bus_url:
        return None
    # Its processor checkpoints it, so that no webhook's commit does.
    return open_outbox(settings.database_url, autocheckpoint=False)


def _processor(  # noqa: PLR0913 - the parts a processor is made of
    settings: Settings, db: Database, outbox: Database | None, clock: Clock, metrics: Metrics,
    sources: SourceRegistry, ids: IdFactory,
) -> Processor:  # fmt: skip
    sequence = build_sequence(settings, load_catalog(settings.catalog_path), ids)
    order = None
    if settings.bus_url:
        gap = timedelta(seconds=settings.bus_gap_seconds)
        order = StreamOrder(settings.bus_stream, clock, gap=gap)
    batch = settings.processor_batch_size
    lifter = MuteLifter.after_store(sequence, timedelta(days=settings.max_event_age_days))
    janitor = Janitor(db, outbox or db, settings.retention)
    return Processor(
        db, sources, sequence, clock, ids, metrics, batch, order, outbox, lifter, janitor
    )


def build_runtime(settings: Settings, *, clock: Clock | None = None) -> Runtime:
    clock = clock or SystemClock()
    ids = IdFactory(clock)
    metrics = Metrics()
    db = Database(settings.database_url, schema=settings.database_schema)
    outbox = _outbox(settings)
    sources = load_sources(internal={DETECTOR_SOURCE: DetectorSource()})
    processor = _processor(settings, db, outbox, clock, metrics, sources, ids)
    relay = NotifyRelay(processor.notify)
    writer = IntakeWriter(outbox or db, ids, on_stored=relay)
    bus = None
    sink: IntakeSink = writer
    if settings.bus_url:
        bus = NatsBus(settings.bus_url, stream=settings.bus_stream, subject=settings.bus_subject)
        sink = BusIntakeSink(bus, ids)
    intake = IntakeService(db, sources, sink, clock, ids, metrics, settings.max_body_bytes)
    replayer = DeadLetterReplayer(db, sources, processor, clock, ids, outbox=outbox)
    incidents = IncidentService(db, clock, ids)
    detection = DetectionService.build(settings, db=db, clock=clock, sink=DetectorIntake(sink))
    return Runtime(
        settings=settings,
        db=db,
        outbox=outbox or db,
        relay=relay,
        clock=clock,
        ids=ids,
        metrics=metrics,
        sources=sources,
        writer=writer,
        intake=intake,
        processor=processor,
        replayer=replayer,
        incidents=incidents,
        bus=bus,
        detection=detection,
    )


def main() -> None:
    """The `vigil` command."""
    from vigil.interfaces.cli import run

    run(build_runtime)
