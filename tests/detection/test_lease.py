"""The detection lease on both databases: one holder at a time, renewed by its holder,
taken over after expiry (a new generation), fenced, released, and decided by the database
when several processes try at once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from tests.conftest import T0, DbTarget
from vigil.detection.lease import LeaseKeeper, LeaseLostError, process_holder
from vigil.interfaces.runtime import Runtime
from vigil.platform.db import Database

TTL = timedelta(seconds=60)


def _keeper(runtime: Runtime, holder: str, tenant: str = "default") -> LeaseKeeper:
    return LeaseKeeper(runtime.db, tenant, holder, TTL)


async def test_one_holder_until_expiry_then_another(runtime: Runtime) -> None:
    a, b = _keeper(runtime, "a"), _keeper(runtime, "b")
    lease, fresh = await a.acquire(T0)
    assert (lease.holder, lease.generation, lease.expires_at, fresh) == ("a", 1, T0 + TTL, True)
    lease, fresh = await b.acquire(T0 + timedelta(seconds=30))
    assert (lease.holder, fresh, b.generation) == ("a", False, None)
    # Renewing keeps the generation and moves the expiry on.
    lease, fresh = await a.acquire(T0 + timedelta(seconds=50))
    assert (lease.holder, lease.generation, fresh) == ("a", 1, False)
    assert lease.expires_at == T0 + timedelta(seconds=50) + TTL
    assert (await b.acquire(T0 + timedelta(seconds=100)))[0].holder == "a"
    # a stops renewing: b takes over once it expired, as a new generation.
    lease, fresh = await b.acquire(T0 + timedelta(seconds=111))
    assert (lease.holder, lease.generation, lease.acquired_at, fresh) == (
        "b",
        2,
        T0 + timedelta(seconds=111),
        True,
    )
    lease, fresh = await a.acquire(T0 + timedelta(seconds=112))
    assert (lease.holder, fresh, a.generation) == ("b", False, None)


async def test_a_holder_that_lost_the_lease_cannot_confirm_it(runtime: Runtime) -> None:
    a, b = _keeper(runtime, "a"), _keeper(runtime, "b")
    await a.acquire(T0)
    async with runtime.db.writing() as session:
        await a.confirm(session, T0 + timedelta(seconds=10))
        await session.commit()
    await b.acquire(T0 + timedelta(seconds=71))  # a paused past its expiry; b took over
    async with runtime.db.writing() as session:
        with pytest.raises(LeaseLostError, match="taken by another process"):
            await a.confirm(session, T0 + timedelta(seconds=72))
    assert a.generation is None
    # Even should b let it lapse, a's old generation is gone: it must take it again.
    (lease, fresh) = await a.acquire(T0 + timedelta(seconds=200))
    assert (lease.holder, lease.generation, fresh) == ("a", 3, True)


async def test_release_lets_another_take_over_at_once(runtime: Runtime) -> None:
    a, b = _keeper(runtime, "a"), _keeper(runtime, "b")
    await a.acquire(T0)
    await a.release(T0 + timedelta(seconds=5))
    assert a.generation is None
    await a.release(T0 + timedelta(seconds=5))  # not held: nothing to do
    lease, fresh = await b.acquire(T0 + timedelta(seconds=5))
    assert (lease.holder, fresh) == ("b", True)


async def test_tenants_have_their_own_lease(runtime: Runtime) -> None:
    assert (await _keeper(runtime, "a", "t1").acquire(T0))[0].holder == "a"
    assert (await _keeper(runtime, "b", "t2").acquire(T0))[0].holder == "b"


async def test_of_many_trying_at_once_exactly_one_holds(
    database: DbTarget, runtime: Runtime
) -> None:
    # Separate engines, as separate processes would have (each with its own connections).
    dbs = [Database(database.url, schema=database.schema) for _ in range(6)]
    try:
        for attempt in range(3):  # the first lease, then two take-overs of an expired one
            now = T0 + attempt * 2 * TTL
            keepers = [
                LeaseKeeper(db, "default", f"p{attempt}.{i}", TTL) for i, db in enumerate(dbs)
            ]
            results = await asyncio.gather(*(k.acquire(now) for k in keepers))
            holders = {lease.holder for lease, _ in results}
            assert len(holders) == 1
            assert sum(fresh for _, fresh in results) == 1
            assert sum(k.generation is not None for k in keepers) == 1
            assert results[0][0].generation == attempt + 1
    finally:
        for db in dbs:
            await db.dispose()


def test_holder_ids_differ_per_instance() -> None:
    assert process_holder() != process_holder()
