"""The capacity series generator: deterministic per seed, truth read from its own values."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from vigil.testing.capacity import (
    BREACHING,
    SCENARIOS,
    CapacitySeries,
    first_breach,
    generate_capacity,
)

DAYS = (7.0, 9.0)


@pytest.fixture(scope="module")
def corpus() -> list[CapacitySeries]:
    return generate_capacity(2 * len(SCENARIOS), seed=11, days=DAYS)


def test_same_seed_same_series(corpus: list[CapacitySeries]) -> None:
    again = generate_capacity(2 * len(SCENARIOS), seed=11, days=DAYS)
    for first, second in zip(corpus, again, strict=True):
        assert first.model_dump(exclude={"values"}) == second.model_dump(exclude={"values"})
        np.testing.assert_array_equal(first.values, second.values)  # NaN gaps compare equal
    other = generate_capacity(2 * len(SCENARIOS), seed=12, days=DAYS)
    assert [s.values for s in other] != [s.values for s in corpus]


def test_cycles_through_every_scenario(corpus: list[CapacitySeries]) -> None:
    assert [s.scenario for s in corpus] == [*SCENARIOS, *SCENARIOS]
    assert len({s.series_id for s in corpus}) == len(corpus)


def test_grid_is_regular_and_realistic(corpus: list[CapacitySeries]) -> None:
    for series in corpus:
        assert series.step in (timedelta(minutes=1), timedelta(minutes=5))
        assert DAYS[0] - 0.01 <= (series.end - series.start).total_seconds() / 86400 <= DAYS[1]
        stamps = series.timestamps()
        assert stamps.size == len(series.values)
        assert set(np.diff(stamps).astype(int)) == {int(series.step.total_seconds())}
        assert np.isfinite(series.values).mean() > 0.9


def test_truth_matches_values(corpus: list[CapacitySeries]) -> None:
    for series in corpus:
        values = np.asarray(series.values)
        sign = 1.0 if series.direction == "upper" else -1.0
        with np.errstate(invalid="ignore"):
            beyond = sign * values >= sign * series.threshold
        truth = first_breach(series.start, series.step, values, series.threshold, series.direction)
        assert series.breach_at == truth
        if truth is None:
            assert not beyond.any()
            continue
        index = round((truth - series.start) / series.step)
        assert beyond[index]
        assert not beyond[:index].any()


def test_breaching_scenarios_breach_and_the_others_do_not(corpus: list[CapacitySeries]) -> None:
    for series in corpus:
        assert (series.breach_at is not None) == (series.scenario in BREACHING), series.series_id


def test_breach_comes_after_enough_history(corpus: list[CapacitySeries]) -> None:
    for series in corpus:
        if series.breach_at is not None:
            assert series.breach_at - series.start > timedelta(days=3)


def test_lower_direction_is_an_error_budget(corpus: list[CapacitySeries]) -> None:
    (burn, *_) = [s for s in corpus if s.scenario == "burn"]
    assert burn.direction == "lower"
    assert burn.kind == "error_budget"
    assert burn.values[0] > burn.threshold


def test_first_breach_ignores_gaps() -> None:
    start = generate_capacity(1, seed=0, days=DAYS)[0].start
    step = timedelta(minutes=5)
    values = (1.0, float("nan"), 5.0, 9.0)
    assert first_breach(start, step, values, 5.0, "upper") == start + 2 * step
    assert first_breach(start, step, values, 1.0, "lower") == start
    assert first_breach(start, step, values, 10.0, "upper") is None
