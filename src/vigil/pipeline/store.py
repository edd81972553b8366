"""Store stage: insert new events, fold repeats into stored ones, record every receipt."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vigil.events import EventStatus
from vigil.pipeline import repository
from vigil.pipeline.base import Batch, Item, StageContext
from vigil.platform.ids import IdFactory

__all__ = ["StoreStage"]


def _new_row(item: Item, event_id: str, now: datetime) -> dict[str, Any]:
    event = item.event
    return {
        "id": event_id,
        "tenant_id": event.tenant_id,
        "source": event.source,
        "event_type": event.event_type.value,
        "fingerprint": event.fingerprint,
        "ts": event.ts,
        "received_at": event.received_at,
        "first_seen": event.received_at,
        "last_seen": event.received_at,
        "resolved_at": event.ts if event.status is EventStatus.RESOLVED else None,
        "service": event.entity.service,
        "severity": event.severity.value,
        "status": event.status.value,
        "priority": item.priority or "P3",
        "title": event.title,
        "description": event.description,
        "entity": event.entity.model_dump(exclude_none=True),
        "labels": event.labels,
        "correlation_ids": event.correlation_ids.model_dump(exclude_none=True),
        "enrichment": item.enrichment,
        "raw": event.raw,
        "ingest_id": event.ingest_id,
        "last_ingest_id": event.ingest_id,
        "schema_version": event.schema_version,
        "occurrences": 1,
        "flaps": 0,
        "silenced_by": item.silenced_by,
    }


def _fold(row: dict[str, Any], item: Item) -> None:
    """Apply a repeat to a row; only a newer occurrence may change the state, and a
    resolve keeps the severity and priority the alert fired with."""
    event = item.event
    row["occurrences"] += 1
    row["last_seen"] = max(row["last_seen"], event.received_at)
    row["last_ingest_id"] = event.ingest_id
    if event.ts < row["ts"]:
        return
    # A flap is a re-fire after a resolve, not the ordinary resolve itself.
    if row["status"] == EventStatus.RESOLVED.value and event.status is EventStatus.FIRING:
        row["flaps"] += 1
    # A resolve says the alert is over, not how bad it was: Datadog's Recovered is
    # `success`, which must not make an error alert an info one.
    resolving = event.status is EventStatus.RESOLVED
    row.update(
        ts=event.ts,
        status=event.status.value,
        resolved_at=event.ts if resolving else None,
        severity=row["severity"] if resolving else event.severity.value,
        priority=row["priority"] if resolving else item.priority or row["priority"],
        title=event.title,
        description=event.description,
        labels=event.labels,
        enrichment=item.enrichment,
        raw=event.raw,
        silenced_by=item.silenced_by,
    )


_UPDATED = (
    "ts", "last_seen", "resolved_at", "severity", "status", "priority", "title", "description",
    "labels", "enrichment", "raw", "last_ingest_id", "occurrences", "flaps", "silenced_by",
)  # fmt: skip


class StoreStage:
    """The only stage that writes; its unit of work is the processor's transaction."""

    name = "store"
    transactional = True

    def __init__(self, ids: IdFactory) -> None:
        self._ids = ids

    async def __call__(self, batch: Batch, ctx: StageContext) -> Batch:
        new: dict[tuple[str, str], dict[str, Any]] = {}
        updated: dict[str, dict[str, Any]] = {}
        out: Batch = []
        # Oldest first, so a state change is applied in the order it happened.
        for item in sorted(batch, key=lambda it: it.event.ts):
            key = (item.event.tenant_id, item.event.fingerprint)
            row, folded = self._row_for(item, key, new, updated, ctx.now)
            if folded:
                _fold(row, item)
            item.event_id, item.folded, item.status = row["id"], folded, row["status"]
            out.append(item)
        await repository.insert_events(ctx.session, list(new.values()))
        await repository.update_events(
            ctx.session,
            [{"b_id": row["id"], **{k: row[k] for k in _UPDATED}} for row in updated.values()],
        )
        await repository.insert_receipts(ctx.session, [self._receipt(item) for item in out])
        return out

    def _row_for(
        self,
        item: Item,
        key: tuple[str, str],
        new: dict[tuple[str, str], dict[str, Any]],
        updated: dict[str, dict[str, Any]],
        now: datetime,
    ) -> tuple[dict[str, Any], bool]:
        if key in new:
            return new[key], True
        if item.existing is not None:
            ref = item.existing
            if ref.id not in updated:
                updated[ref.id] = dict(ref.row)
            return updated[ref.id], True
        row = _new_row(item, self._ids.new(), now)
        new[key] = row
        return row, False

    @staticmethod
    def _receipt(item: Item) -> dict[str, Any]:
        return {
            "tenant_id": item.event.tenant_id,
            "ingest_id": item.event.ingest_id,
            "event_id": item.event_id,
            "intake_id": item.intake_id,
            "received_at": item.event.received_at,
            "status": item.event.status.value,
            "event_type": item.event.event_type.value,
        }
