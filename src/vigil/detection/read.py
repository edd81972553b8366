"""Read model of what the detectors raised (from the stored events), for the API and CLI."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from vigil.detection.alarms import DETECTOR_SOURCE
from vigil.events import EventType
from vigil.pipeline.tables import events

__all__ = ["MAX_WINDOW", "Anomaly", "list_anomalies", "parse_window"]

_WINDOW = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_WINDOW = timedelta(days=3660)  # ten years: far beyond any retention, never overflows


def parse_window(text: str) -> timedelta:
    """`90s`, `15m`, `1h`, `2d`, `1w` as a timedelta; ValueError names the problem."""
    match = _WINDOW.match(text)
    if match is None:
        raise ValueError(f"window {text!r} is not a number and a unit (s, m, h, d, w), e.g. 1h")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"window {text!r} must be longer than zero")
    if seconds > MAX_WINDOW.total_seconds():
        raise ValueError(f"window {text!r} is longer than {MAX_WINDOW.days} days")
    return timedelta(seconds=seconds)


class Anomaly(BaseModel):
    """One thing a detector raised (repeats folded in), with its evidence."""

    model_config = ConfigDict(frozen=True)

    id: str
    detector: str
    service: str | None
    severity: str
    status: str
    priority: str
    title: str
    description: str
    at: datetime
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    occurrences: int
    fingerprint: str
    labels: dict[str, str]
    evidence: dict[str, Any]


def _anomaly(row: Any) -> Anomaly:
    raw = row["raw"] or {}
    return Anomaly(
        id=row["id"],
        detector=str(raw.get("detector", "unknown")),
        service=row["service"],
        severity=row["severity"],
        status=row["status"],
        priority=row["priority"],
        title=row["title"],
        description=row["description"],
        at=row["ts"],
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        resolved_at=row["resolved_at"],
        occurrences=row["occurrences"],
        fingerprint=row["fingerprint"],
        labels=row["labels"],
        evidence=raw,
    )


async def list_anomalies(
    session: AsyncSession,
    tenant_id: str,
    since: datetime,
    *,
    service: str | None = None,
    limit: int = 100,
) -> list[Anomaly]:
    """Anomalies seen at or after `since`, most recently seen first."""
    where = [
        events.c.tenant_id == tenant_id,
        events.c.source == DETECTOR_SOURCE,
        events.c.event_type == EventType.ANOMALY.value,
        events.c.last_seen >= since,
    ]
    if service:
        where.append(events.c.service == service)
    query = (
        sa.select(events)
        .where(*where)
        .order_by(events.c.last_seen.desc(), events.c.id.desc())
        .limit(limit)
    )
    return [_anomaly(row) for row in (await session.execute(query)).mappings()]
