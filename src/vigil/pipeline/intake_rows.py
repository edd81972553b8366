"""The intake table's rows as the processor sees them: claim, re-read and mark requests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from vigil.pipeline.tables import intake

__all__ = ["claim", "mark", "mark_processed", "pending", "pending_one"]


async def claim(session: AsyncSession, limit: int, only: str | None) -> list[dict[str, Any]]:
    """Pending requests, oldest first, locked for this transaction (Postgres skips rows
    another worker holds; SQLite's IMMEDIATE transaction already excludes other writers)."""
    query = sa.select(intake).where(intake.c.state == "pending")
    if only is not None:
        query = query.where(intake.c.id == only)
    query = query.order_by(intake.c.id).limit(limit).with_for_update(skip_locked=True)
    return [dict(row) for row in (await session.execute(query)).mappings()]


async def pending(session: AsyncSession, ids: list[str]) -> list[dict[str, Any]]:
    """The still pending ones of `ids`, in that order."""
    if not ids:
        return []
    query = sa.select(intake).where(intake.c.id.in_(ids), intake.c.state == "pending")
    found = {row["id"]: dict(row) for row in (await session.execute(query)).mappings()}
    return [found[i] for i in ids if i in found]


def pending_one(intake_id: str) -> sa.Select[Any]:
    """The query for one request, if it is still pending."""
    return sa.select(intake).where(intake.c.id == intake_id, intake.c.state == "pending")


async def mark(
    session: AsyncSession, ids: list[str], state: str, now: datetime, *, error: str | None = None
) -> None:
    """Set the requests' state (``done``, ``failed``), when, and count one more attempt."""
    if ids:
        await session.execute(
            intake.update()
            .where(intake.c.id.in_(ids))
            .values(state=state, processed_at=now, attempts=intake.c.attempts + 1, error=error)
        )


async def mark_processed(
    session: AsyncSession, done: list[str], failed: list[str], now: datetime
) -> None:
    """Mark a batch: the requests ``done`` and those whose body could not be parsed."""
    await mark(session, done, "done", now)
    await mark(session, failed, "failed", now)
