"""BARO and NSigma on a tiny synthetic frame: a CPU step on one service ranks it first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from tests.conftest import skip_or_fail
from vigil.interfaces.evaluation.rca_baselines import (
    BASELINES,
    _robust,
    _standard,
    active_baselines,
    baro,
    column_scores,
    nsigma,
    services_of,
    wide_metrics,
)

START = datetime(2024, 1, 1, tzinfo=UTC)
INJECT = START + timedelta(minutes=10)


def _frame() -> pd.DataFrame:
    """Ten normal and five anomalous minutes; ``b`` steps up, ``a`` wobbles, ``c`` is flat."""
    rng = np.random.default_rng(7)
    times = [START + timedelta(minutes=i) for i in range(15)]
    b_cpu = np.r_[rng.normal(10, 1, 10), rng.normal(30, 1, 5)]
    return pd.DataFrame(
        {
            "time": pd.to_datetime(times, utc=True),
            "a_cpu": rng.normal(10, 1, 15),
            "b_cpu": b_cpu,
            "b_mem": np.r_[np.full(14, 5.0), np.nan],
            "c_cpu": np.full(15, 3.0),
        }
    )


@pytest.mark.parametrize("method", [baro, nsigma])
def test_step_ranks_its_service_first(method: object) -> None:
    assert callable(method)
    ranked = method(_frame(), INJECT)
    assert ranked[0] == "b"
    assert "c" not in ranked  # constant columns are dropped, as in RCAEval


def test_robust_score_is_median_and_iqr() -> None:
    times = pd.to_datetime([START + timedelta(minutes=i) for i in range(6)], utc=True)
    data = pd.DataFrame({"time": times, "x_m": [1.0, 2.0, 3.0, 4.0, 5.0, 9.0]})
    inject = START + timedelta(minutes=4)
    # Normal 1..4: median 2.5, IQR 3.25 - 1.75 = 1.5; the max anomalous value is 9.
    robust = column_scores(data, inject, _robust)
    assert robust["x_m"] == pytest.approx((9 - 2.5) / 1.5)
    standard = column_scores(data, inject, _standard)
    assert standard["x_m"] == pytest.approx((9 - 2.5) / np.std([1, 2, 3, 4]))


def test_services_keep_their_best_column() -> None:
    scores = pd.Series([5.0, 4.0, 3.0], index=["b_cpu", "a_mem", "b_mem"])
    assert services_of(scores.index) == ["b", "a"]


def test_wide_metrics_groups_a_scrape_by_minute() -> None:
    long = pd.DataFrame(
        {
            "time": pd.to_datetime(
                ["2024-01-01 00:00:19", "2024-01-01 00:00:20", "2024-01-01 00:01:19"], utc=True
            ),
            "service": ["a", "b", "a"],
            "instance": ["a-1", "b-1", "a-1"],
            "metric": ["cpu", "cpu", "cpu"],
            "value": [1.0, 2.0, 3.0],
        }
    )
    wide = wide_metrics(long)
    assert list(wide.columns) == ["time", "a_cpu", "b_cpu"]
    assert len(wide) == 2
    assert wide["time"].iloc[0] == pd.Timestamp("2024-01-01 00:00:19", tz="UTC")
    assert wide_metrics(long.iloc[:0]).columns.tolist() == ["time"]


def _require_rcaeval() -> None:
    """Skip without the bench extra (fail when `VIGIL_REQUIRE_SERVICES=1`: CI installs it)."""
    try:
        import RCAEval.e2e.baro  # noqa: F401
    except ImportError as missing:
        skip_or_fail(f"RCAEval is not importable ({missing}); make install adds the bench extra")


def _gapless(seed: int) -> pd.DataFrame:
    """Eight services, three metrics each, 20 normal and 5 anomalous minutes, two steps."""
    rng = np.random.default_rng(seed)
    times = pd.to_datetime([START + timedelta(minutes=i) for i in range(25)], utc=True)
    columns: dict[str, object] = {"time": times}
    for s in range(8):
        for metric in ("cpu", "mem", "latency"):
            columns[f"svc{s}_{metric}"] = rng.normal(50, 5, 25)
    columns["svc3_cpu"] = np.r_[rng.normal(50, 5, 20), rng.normal(90, 5, 5)]
    columns["svc6_latency"] = np.r_[rng.normal(50, 5, 20), rng.normal(70, 5, 5)]
    columns["svc7_mem"] = np.full(25, 12.0)  # constant: dropped by both
    return pd.DataFrame(columns)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rcaeval_and_the_reimplementation_rank_alike_without_gaps(seed: int) -> None:
    _require_rcaeval()
    methods, source = active_baselines()
    assert source.startswith("RCAEval ")
    inject = START + timedelta(minutes=20)
    data = _gapless(seed)
    for name, ours in BASELINES.items():
        assert methods[name](data, inject) == ours(data, inject), name
    assert methods["baro"](data, inject)[0] == "svc3"


def test_rcaeval_gets_nothing_to_rank_without_both_halves() -> None:
    _require_rcaeval()
    methods, _ = active_baselines()
    data = _gapless(4)
    for name, method in methods.items():
        assert method(data.iloc[:0], START + timedelta(minutes=20)) == [], name
        assert method(data, START - timedelta(minutes=1)) == [], name  # no normal part
        assert BASELINES[name](data, START - timedelta(minutes=1)) == [], name
