"""Stream order: what workers stored is processed in the broker's sequence, gaps waited for."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from vigil.interfaces.runtime import Runtime
from vigil.pipeline.ordering import StreamClaim, StreamOrder
from vigil.pipeline.tables import bus_cursor, bus_sequence
from vigil.testing.clock import FakeClock

GAP = timedelta(seconds=60)


async def _record(runtime: Runtime, order: StreamOrder, *stored: tuple[int, str | None]) -> None:
    async with runtime.db.writing() as session:
        await order.record(session, list(stored))
        await session.commit()


async def _turn(runtime: Runtime, order: StreamOrder, limit: int = 100) -> StreamClaim:
    """One processing turn: claim and advance, as the processor does around its work."""
    async with runtime.db.writing() as session:
        claim = await order.claim(session, limit)
        assert claim is not None
        await order.advance(session, claim)
        await session.commit()
    return claim


async def _left(runtime: Runtime) -> tuple[int, list[int]]:
    async with runtime.db.session() as session:
        cursor = (await session.execute(sa.select(bus_cursor.c.seq))).scalar_one()
        seqs = list((await session.execute(sa.select(bus_sequence.c.seq))).scalars())
    return cursor, sorted(seqs)


async def test_takes_the_contiguous_run_and_waits_at_a_gap(
    runtime: Runtime, clock: FakeClock
) -> None:
    order = StreamOrder("S", clock, gap=GAP)
    await _record(runtime, order, (3, "c"), (1, "a"), (5, "e"))
    first = await _turn(runtime, order)
    assert (first.intake_ids, first.through) == (["a"], 1)  # 2 is still being stored
    assert await _left(runtime) == (1, [3, 5])

    await _record(runtime, order, (4, "d"), (2, "b"))
    second = await _turn(runtime, order)
    assert second.intake_ids == ["b", "c", "d", "e"]
    assert (second.sequences, second.through, second.given_up) == (4, 5, 0)
    assert await _left(runtime) == (5, [])
    assert (await _turn(runtime, order)).sequences == 0


async def test_a_redelivered_sequence_and_a_duplicate_request_count_once(
    runtime: Runtime, clock: FakeClock
) -> None:
    order = StreamOrder("S", clock, gap=GAP)
    await _record(runtime, order, (1, "a"), (2, "a"), (3, None))
    await _record(runtime, order, (1, "a"))  # the broker redelivered sequence 1
    claim = await _turn(runtime, order)
    assert (claim.intake_ids, claim.sequences, claim.through) == (["a"], 3, 3)


async def test_a_gap_open_too_long_is_given_up_and_a_late_sequence_still_processed(
    runtime: Runtime, clock: FakeClock
) -> None:
    order = StreamOrder("S", clock, gap=GAP)
    await _record(runtime, order, (2, "b"), (3, "c"))
    clock.advance(GAP - timedelta(seconds=1))
    assert (await _turn(runtime, order)).sequences == 0
    clock.advance(timedelta(seconds=2))
    claim = await _turn(runtime, order)
    assert (claim.intake_ids, claim.given_up, claim.through) == (["b", "c"], 1, 3)

    await _record(runtime, order, (1, "a"))  # turned up after all: processed, not lost
    late = await _turn(runtime, order)
    assert (late.intake_ids, late.through) == (["a"], 3)
    assert await _left(runtime) == (3, [])


async def test_claims_at_most_the_limit_and_streams_keep_their_own_cursor(
    runtime: Runtime, clock: FakeClock
) -> None:
    order, other = StreamOrder("S", clock, gap=GAP), StreamOrder("T", clock, gap=GAP)
    await _record(runtime, order, *((n, f"s{n}") for n in range(1, 8)))
    await _record(runtime, other, (1, "t1"))
    assert (await _turn(runtime, order, limit=3)).intake_ids == ["s1", "s2", "s3"]
    assert (await _turn(runtime, other)).intake_ids == ["t1"]
    assert (await _turn(runtime, order)).intake_ids == ["s4", "s5", "s6", "s7"]


async def test_a_second_processor_is_held_off_while_one_holds_the_cursor(
    runtime: Runtime, clock: FakeClock
) -> None:
    if runtime.db.is_sqlite:
        pytest.skip("SQLite has one writer at a time: a second one waits for the first")
    order = StreamOrder("S", clock, gap=GAP)
    await _turn(runtime, order)  # the cursor row exists from the first turn on
    await _record(runtime, order, (1, "a"))
    async with runtime.db.writing() as holder:
        assert await order.claim(holder, 10) is not None
        async with runtime.db.writing() as other:
            assert await order.claim(other, 10) is None
        await holder.rollback()
    assert (await _turn(runtime, order)).intake_ids == ["a"]
