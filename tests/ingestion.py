"""Feeding a runtime through its intake and reading back what it stored (public API only)."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client.parser import text_string_to_metric_families

from vigil.interfaces.runtime import Runtime
from vigil.pipeline import IntakeResult
from vigil.pipeline.deadletters import DeadLetter, list_dead_letters
from vigil.pipeline.repository import EventQuery, StoredEvent, list_events


async def accept(
    runtime: Runtime,
    source: str,
    body: bytes,
    *,
    tenant: str = "default",
    headers: Mapping[str, str] | None = None,
) -> IntakeResult:
    """Store a request durably, as the webhook does, without processing it yet."""
    return await runtime.intake.accept(source, body, tenant_id=tenant, headers=headers or {})


async def ingest(
    runtime: Runtime,
    source: str,
    body: bytes,
    *,
    tenant: str = "default",
    headers: Mapping[str, str] | None = None,
) -> IntakeResult:
    """Store a request and process everything pending, like `vigil ingest`."""
    result = await accept(runtime, source, body, tenant=tenant, headers=headers)
    await runtime.processor.drain()
    return result


async def stored_events(
    runtime: Runtime, tenant: str = "default", **filters: object
) -> list[StoredEvent]:
    """Every stored event of `tenant`, newest first."""
    query = EventQuery(tenant_id=tenant, limit=1000, **filters)  # type: ignore[arg-type]
    async with runtime.db.session() as session:
        return await list_events(session, query)


async def stored_event(runtime: Runtime, tenant: str = "default") -> StoredEvent:
    """The one stored event of `tenant` (fails when there is not exactly one)."""
    found = await stored_events(runtime, tenant)
    assert len(found) == 1, [(e.fingerprint, e.title) for e in found]
    return found[0]


async def dead_letters(
    runtime: Runtime, tenant: str = "default", *, pending_only: bool = False
) -> list[DeadLetter]:
    async with runtime.db.session() as session:
        return await list_dead_letters(session, tenant, limit=1000, pending_only=pending_only)


def metric_value(text: str | bytes, name: str, **labels: str) -> float:
    """Sum of the samples called `name` whose labels include `labels` (0 when none)."""
    if isinstance(text, bytes):
        text = text.decode()
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                total += sample.value
    return total


def runtime_metric(runtime: Runtime, name: str, **labels: str) -> float:
    return metric_value(runtime.metrics.render(), name, **labels)
