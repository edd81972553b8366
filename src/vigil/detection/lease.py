"""The detection lease: one process at a time runs a tenant's passes against a database.

A row of `detection_leases` names the holder and when its lease expires. A process takes
the lease with one conditional UPDATE (it is free: expired, or already ours) and, for the
very first one, an INSERT that yields on conflict; both are decided by the database, so
of several processes trying at once exactly one holds it (Postgres re-checks the UPDATE's
condition on the row it waited for; SQLite runs writers one at a time). The holder renews
it at every pass and, in the transaction that saves the detectors' state, checks it still
holds the same lease (same generation), so a process that paused past its expiry while
another took over cannot overwrite the newer state. Others skip their passes and take
over once the lease expires (a holder that stops cleanly releases it at once).
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from vigil.detection.tables import detection_leases
from vigil.platform.db import Database

__all__ = ["Lease", "LeaseKeeper", "LeaseLostError", "process_holder"]

_T = detection_leases.c


def process_holder() -> str:
    """A holder id unique to this service instance: host, process and a random part."""
    return f"{socket.gethostname()[:180]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True, slots=True)
class Lease:
    """The lease as the database has it after an attempt to take it."""

    holder: str
    generation: int
    acquired_at: datetime
    expires_at: datetime


class LeaseLostError(RuntimeError):
    """Another process took the lease while this one ran a pass; the pass is not saved."""

    retryable = True
    reason = "lease_lost"


class LeaseKeeper:
    """Takes, renews, checks and releases one tenant's detection lease for one holder."""

    def __init__(self, db: Database, tenant_id: str, holder: str, ttl: timedelta) -> None:
        self._db, self.tenant_id, self.holder, self.ttl = db, tenant_id, holder, ttl
        self.generation: int | None = None  # of the lease held, None when not holding it

    async def acquire(self, now: datetime) -> tuple[Lease, bool]:
        """Take or renew the lease at `now`; the lease as it stands, and whether this
        holder just got it (it did not hold this generation before: reload the state)."""
        async with self._db.writing() as session:
            lease = await _take(session, self.tenant_id, self.holder, now, now + self.ttl)
            await session.commit()
        held = lease.holder == self.holder
        fresh = held and lease.generation != self.generation
        self.generation = lease.generation if held else None
        return lease, fresh

    async def confirm(self, session: AsyncSession, now: datetime) -> None:
        """In the caller's transaction: extend the lease, or raise `LeaseLostError` when
        this holder no longer has the generation it took. Never commits."""
        if self.generation is None:
            raise LeaseLostError(f"detection lease of tenant {self.tenant_id!r} is not held")
        result = await session.execute(
            detection_leases.update()
            .where(
                _T.tenant_id == self.tenant_id,
                _T.holder == self.holder,
                _T.generation == self.generation,
            )
            .values(expires_at=now + self.ttl)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            self.generation = None
            raise LeaseLostError(
                f"detection lease of tenant {self.tenant_id!r} was taken by another process"
            )

    async def release(self, now: datetime) -> None:
        """Let the lease expire now, if held, so another process takes over at once."""
        if self.generation is None:
            return
        async with self._db.writing() as session:
            await session.execute(
                detection_leases.update()
                .where(
                    _T.tenant_id == self.tenant_id,
                    _T.holder == self.holder,
                    _T.generation == self.generation,
                )
                .values(expires_at=now)
            )
            await session.commit()
        self.generation = None


async def _take(
    session: AsyncSession, tenant_id: str, holder: str, now: datetime, until: datetime
) -> Lease:
    """Renew the lease if ours, take it if expired, create it if missing; never commits."""
    ours = _T.holder == holder
    taken_at = sa.literal(now, _T.acquired_at.type)
    await session.execute(
        detection_leases.update()
        .where(_T.tenant_id == tenant_id, sa.or_(ours, _T.expires_at <= now))
        .values(
            holder=holder,
            expires_at=until,
            generation=sa.case((ours, _T.generation), else_=_T.generation + 1),
            acquired_at=sa.case((ours, _T.acquired_at), else_=taken_at),
        )
    )
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    row = {"tenant_id": tenant_id, "holder": holder, "generation": 1}
    await session.execute(
        insert(detection_leases)
        .values(**row, acquired_at=now, expires_at=until)
        .on_conflict_do_nothing(index_elements=["tenant_id"])
    )
    query = sa.select(detection_leases).where(_T.tenant_id == tenant_id)
    found = (await session.execute(query)).mappings().one()
    return Lease(found["holder"], found["generation"], found["acquired_at"], found["expires_at"])
