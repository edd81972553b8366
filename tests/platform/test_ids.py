"""Ids: ULIDs whose order follows the (fake) clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ulid import ULID

from vigil.platform.ids import IdFactory, id_floor
from vigil.testing.clock import FakeClock

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def test_ids_sort_in_clock_order() -> None:
    clock = FakeClock(datetime(2026, 11, 21, 12, 0, tzinfo=UTC))
    ids = IdFactory(clock)
    made = []
    for _ in range(50):
        made.append(ids.new())
        clock.advance(timedelta(milliseconds=1))
    assert sorted(made) == made
    assert len(set(made)) == len(made)
    assert all(len(i) == 26 for i in made)


def test_ids_carry_the_clock_time() -> None:
    moment = datetime(2026, 11, 21, 12, 0, 0, 250000, tzinfo=UTC)
    made = IdFactory(FakeClock(moment)).new()
    assert ULID.from_str(made).datetime == moment


def test_ids_at_the_same_instant_are_unique() -> None:
    ids = IdFactory(FakeClock(datetime(2026, 11, 21, 12, 0, tzinfo=UTC)))
    made = {ids.new() for _ in range(1000)}
    assert len(made) == 1000


def test_earlier_clock_gives_smaller_id() -> None:
    clock = FakeClock(datetime(2026, 11, 21, 12, 0, tzinfo=UTC))
    ids = IdFactory(clock)
    later = ids.new()
    clock.set(datetime(2026, 11, 21, 11, 59, tzinfo=UTC))
    assert ids.new() < later


def test_the_floor_of_a_moment_is_below_every_id_made_then_and_above_earlier_ones() -> None:
    moment = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    clock = FakeClock(moment - timedelta(milliseconds=1))
    ids = IdFactory(clock)
    before = [ids.new() for _ in range(20)]
    clock.set(moment)
    at = [ids.new() for _ in range(20)]
    floor = id_floor(moment)
    assert all(made < floor for made in before)
    assert all(made >= floor for made in at)


def test_the_floor_before_1970_is_below_every_id() -> None:
    assert id_floor(datetime(1, 1, 1, tzinfo=UTC)) == "0" * 26
    assert id_floor(datetime(1969, 12, 31, tzinfo=UTC)) < IdFactory(FakeClock(_EPOCH)).new()
