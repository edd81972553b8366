"""Dead letters: every payload or event Vigil could not take, with the reason, replayable."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from vigil.pipeline.base import Item
from vigil.pipeline.tables import dead_letters
from vigil.sources import PayloadError

__all__ = [
    "BASE64",
    "DeadLetter",
    "NewDeadLetter",
    "count_dead_letters",
    "db_reason",
    "event_letter",
    "get_dead_letter",
    "insert_dead_letters",
    "kept_body",
    "list_dead_letters",
    "mark_replayed",
    "payload_letter",
]

BASE64 = "base64"  # a kept body's content-transfer-encoding when it is not UTF-8 text
# A dead letter keeps a body whole up to this size, far above any intake limit a server
# would set (the default is 1 MiB): a body refused for its content must stay replayable.
# Only an oversized one (refused with 413, read to just past the limit) is cut here.
MAX_KEPT_PAYLOAD = 64 * 1024 * 1024


class DeadLetter(BaseModel):
    """`kind` is `payload` (a raw request body) or `event` (one canonical event as JSON)."""

    model_config = ConfigDict(frozen=True)

    id: str
    tenant_id: str
    source: str
    kind: str
    stage: str
    field: str
    reason: str
    payload: str
    headers: dict[str, str]
    received_at: datetime
    created_at: datetime
    intake_id: str | None
    replayed_at: datetime | None
    replay_result: str | None


@dataclass(frozen=True, slots=True)
class NewDeadLetter:
    tenant_id: str
    source: str
    kind: str
    stage: str
    field: str
    reason: str
    payload: str
    received_at: datetime
    headers: dict[str, str] | None = None
    intake_id: str | None = None

    def row(self, dead_letter_id: str, now: datetime) -> dict[str, Any]:
        return {
            "id": dead_letter_id,
            "tenant_id": self.tenant_id,
            "source": self.source,
            "kind": self.kind,
            "stage": self.stage,
            "field": self.field[:255],
            "reason": self.reason,
            "payload": self.payload[:MAX_KEPT_PAYLOAD],
            "headers": self.headers or {},
            "received_at": self.received_at,
            "created_at": now,
            "intake_id": self.intake_id,
        }


async def insert_dead_letters(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(dead_letters.insert(), rows)


async def list_dead_letters(
    session: AsyncSession,
    tenant_id: str,
    *,
    limit: int = 100,
    before_id: str | None = None,
    pending_only: bool = False,
) -> list[DeadLetter]:
    """Newest first; `pending_only` hides the ones already replayed successfully."""
    where = [dead_letters.c.tenant_id == tenant_id]
    if before_id:
        where.append(dead_letters.c.id < before_id)
    if pending_only:
        where.append(dead_letters.c.replayed_at.is_(None))
    query = sa.select(dead_letters).where(*where).order_by(dead_letters.c.id.desc()).limit(limit)
    rows = (await session.execute(query)).mappings()
    return [DeadLetter.model_validate(dict(row)) for row in rows]


async def count_dead_letters(session: AsyncSession, tenant_id: str | None = None) -> int:
    query = sa.select(sa.func.count()).select_from(dead_letters)
    if tenant_id is not None:
        query = query.where(dead_letters.c.tenant_id == tenant_id)
    return int((await session.execute(query)).scalar_one())


async def get_dead_letter(
    session: AsyncSession, tenant_id: str, dead_letter_id: str
) -> DeadLetter | None:
    query = sa.select(dead_letters).where(
        dead_letters.c.tenant_id == tenant_id, dead_letters.c.id == dead_letter_id
    )
    row = (await session.execute(query)).mappings().first()
    return DeadLetter.model_validate(dict(row)) if row else None


async def mark_replayed(
    session: AsyncSession, dead_letter_id: str, *, at: datetime | None, result: str
) -> None:
    """Record a replay attempt; `at` is set only when the replay succeeded."""
    await session.execute(
        dead_letters.update()
        .where(dead_letters.c.id == dead_letter_id)
        .values(replayed_at=at, replay_result=result)
    )


def db_reason(exc: Exception) -> str:
    """The database's own words, first line only (no SQL, no parameters)."""
    orig = getattr(exc, "orig", None) or exc
    first = str(orig).strip().splitlines()[0] if str(orig).strip() else ""
    return f"{type(orig).__name__}: {first}"[:500]


def payload_letter(row: Mapping[str, Any], stage: str, exc: Exception) -> NewDeadLetter:
    """The dead letter of a stored request (an intake row) that failed at ``stage``."""
    field = exc.field if isinstance(exc, PayloadError) else ""
    reason = exc.problem if isinstance(exc, PayloadError) else f"{type(exc).__name__}: {exc}"
    if isinstance(exc, KeyError):
        reason = f"source {row['source']!r} is not installed"
    return NewDeadLetter(
        tenant_id=row["tenant_id"],
        source=row["source"],
        kind="payload",
        stage=stage,
        field=field,
        reason=reason,
        payload=row["body"],
        received_at=row["received_at"],
        headers=row["headers"],
        intake_id=row["id"],
    )


def event_letter(item: Item) -> NewDeadLetter:
    """The dead letter of one event a stage refused (``item.failure`` says why)."""
    failure = item.failure
    assert failure is not None
    event = item.event
    return NewDeadLetter(
        tenant_id=event.tenant_id,
        source=event.source,
        kind="event",
        stage=failure.stage,
        field=failure.field,
        reason=failure.reason,
        payload=event.model_dump_json(),
        received_at=event.received_at,
        intake_id=item.intake_id,
    )


def kept_body(body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    """A body as a dead letter keeps it: text when it is UTF-8 without NUL bytes (which no
    JSON body holds and Postgres text cannot), else base64 (marked in the headers), so
    that nothing is lost or, replayed, taken for something it was not."""
    if b"\x00" not in body:
        with contextlib.suppress(UnicodeDecodeError):
            return {"payload": body.decode("utf-8"), "headers": headers}
    marked = {**headers, "content-transfer-encoding": BASE64}
    return {"payload": base64.b64encode(body).decode("ascii"), "headers": marked}
