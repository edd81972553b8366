"""Dead letters: listed newest first, paged, filtered to pending, counted, fetched by id."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import MakeRuntime
from tests.ingestion import accept
from vigil.interfaces.runtime import Runtime
from vigil.pipeline import IntakeRejectedError
from vigil.pipeline.deadletters import (
    count_dead_letters,
    get_dead_letter,
    list_dead_letters,
    mark_replayed,
)
from vigil.testing.clock import FakeClock


async def reject(runtime: Runtime, body: bytes, tenant: str = "default") -> str:
    with pytest.raises(IntakeRejectedError) as raised:
        await accept(runtime, "alertmanager", body, tenant=tenant)
    assert raised.value.dead_letter_id is not None
    return raised.value.dead_letter_id


async def test_list_page_count_and_get(make_runtime: MakeRuntime, clock: FakeClock) -> None:
    runtime = await make_runtime()
    ids = []
    for n in range(5):
        ids.append(await reject(runtime, f"broken {n}".encode()))
        clock.advance(timedelta(seconds=1))
    other = await reject(runtime, b"broken elsewhere", tenant="acme")

    async with runtime.db.session() as session:
        first = await list_dead_letters(session, "default", limit=2)
        rest = await list_dead_letters(session, "default", limit=10, before_id=first[-1].id)
        total = await count_dead_letters(session)
        mine = await count_dead_letters(session, "default")
        found = await get_dead_letter(session, "default", ids[0])
        foreign = await get_dead_letter(session, "default", other)
    assert [d.id for d in first] == ids[::-1][:2]
    assert [d.id for d in rest] == ids[::-1][2:]
    assert (total, mine) == (6, 5)
    assert found is not None
    assert found.payload == "broken 0"
    assert found.received_at == found.created_at
    assert (found.replayed_at, found.replay_result) == (None, None)
    assert foreign is None  # tenants see only their own


async def test_pending_only_hides_successful_replays(
    make_runtime: MakeRuntime, clock: FakeClock
) -> None:
    runtime = await make_runtime()
    done, failed, untouched = [await reject(runtime, b"nope %d" % n) for n in range(3)]
    async with runtime.db.writing() as session:
        await mark_replayed(session, done, at=clock.now(), result="stored")
        await mark_replayed(session, failed, at=None, result="still failing: nope")
        await session.commit()
    async with runtime.db.session() as session:
        pending = await list_dead_letters(session, "default", pending_only=True)
        everything = await list_dead_letters(session, "default")
    assert {d.id for d in pending} == {failed, untouched}
    assert {d.id for d in everything} == {done, failed, untouched}
    results = {d.id: (d.replayed_at, d.replay_result) for d in everything}
    assert results[done] == (clock.now(), "stored")
    assert results[failed] == (None, "still failing: nope")
