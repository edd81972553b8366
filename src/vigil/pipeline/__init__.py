"""The ingestion pipeline: durable intake, stages (validate, dedup, enrich, classify,
silence, store), the processor that runs them, and dead letters."""

from vigil.pipeline.base import Batch, Item, Stage, StageContext, StageFailure, StoredRef
from vigil.pipeline.catalog import ServiceCatalog, ServiceInfo, load_catalog
from vigil.pipeline.intake import IntakeRejectedError, IntakeResult, IntakeService, IntakeWriter
from vigil.pipeline.processor import Processor
from vigil.pipeline.replay import DeadLetterReplayer, ReplayResult
from vigil.pipeline.sequence import Outcome, Sequence

__all__ = [
    "Batch",
    "DeadLetterReplayer",
    "IntakeRejectedError",
    "IntakeResult",
    "IntakeService",
    "IntakeWriter",
    "Item",
    "Outcome",
    "Processor",
    "ReplayResult",
    "Sequence",
    "ServiceCatalog",
    "ServiceInfo",
    "Stage",
    "StageContext",
    "StageFailure",
    "StoredRef",
    "load_catalog",
]
