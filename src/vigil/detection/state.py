"""Saved detector state rows: load a tenant's, upsert changed ones. Never commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from vigil.detection.tables import detector_states

__all__ = ["StateKind", "StateRow", "delete_states", "load_states", "save_states"]

StateKind = Literal["metric", "forecast", "log", "cursor"]


@dataclass(frozen=True, slots=True)
class StateRow:
    """What one detector (or cursor) saved, under a key unique within its tenant."""

    key: str
    kind: StateKind
    watch: str
    labels: dict[str, str]
    state: dict[str, Any]


async def load_states(session: AsyncSession, tenant_id: str) -> dict[str, StateRow]:
    query = sa.select(detector_states).where(detector_states.c.tenant_id == tenant_id)
    return {
        row["key"]: StateRow(row["key"], row["kind"], row["watch"], row["labels"], row["state"])
        for row in (await session.execute(query)).mappings()
    }


async def save_states(
    session: AsyncSession, tenant_id: str, rows: list[StateRow], now: datetime
) -> None:
    """Insert or replace each row (same statement shape on SQLite and Postgres)."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = [
        {
            "tenant_id": tenant_id,
            "key": row.key,
            "kind": row.kind,
            "watch": row.watch,
            "labels": row.labels,
            "state": row.state,
            "updated_at": now,
        }
        for row in rows
    ]
    stmt = insert(detector_states)
    stmt = stmt.on_conflict_do_update(
        index_elements=["tenant_id", "key"],
        set_={
            name: stmt.excluded[name] for name in ("kind", "watch", "labels", "state", "updated_at")
        },
    )
    await session.execute(stmt, values)


async def delete_states(session: AsyncSession, tenant_id: str, keys: list[str]) -> None:
    if keys:
        await session.execute(
            detector_states.delete().where(
                detector_states.c.tenant_id == tenant_id, detector_states.c.key.in_(keys)
            )
        )
